//! Discovery with the machine faked at its boundaries: NVML (a GPU list), HTTP
//! (stand-in Ollama / SD / ComfyUI servers on 127.0.0.1 speaking their documented
//! APIs, since the real ones need model weights), PATH (a folder of scripts).

use super::advice::{recommend, tuning};
use super::hardware::fake::{gpu, FakeGpus};
use super::hardware::{discover, Gpu, GpuUnknown, GB};
use super::preflight::{check, is_local, step_needs, Machine};
use super::profiles::{LlmSettings, Profiles};
use super::services::{probe_list, ServiceKind};
use super::*;
use crate::config::Config;
use crate::tools::binaries::{find_all, version_in, wanted};
use crate::tools::stand_in::{reply, stand_in, Reply};
use serde_json::{json, Map};
use std::time::Instant;

mod preflight_check;

fn config(yaml: &str) -> Config {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("localforge.yaml");
    std::fs::write(&f, yaml).unwrap();
    Config::from_file(&f).unwrap()
}

fn machine(gpus: Result<Vec<Gpu>, GpuUnknown>) -> Hardware {
    discover(&FakeGpus(gpus), None)
}

fn rec<'a>(recs: &'a [advice::Recommendation], task: &str) -> &'a advice::Recommendation {
    recs.iter().find(|r| r.task == task).unwrap()
}

fn f16() -> LlmSettings {
    LlmSettings::default()
}

#[test]
fn nvml_absent_means_no_gpu_and_cpu_sized_advice() {
    let hw = machine(Err(GpuUnknown("no NVIDIA driver (libnvidia-ml.so.1 not found)".into())));
    if !cfg!(all(target_os = "macos", target_arch = "aarch64")) {
        assert!(hw.gpus.is_empty());
        assert_eq!(hw.vram_gb, 0.0);
        // No GPU is 0.0 GB of VRAM, not -0.0 (an empty f64 sum).
        assert_eq!(serde_json::to_value(&hw).unwrap()["vram_gb"].to_string(), "0.0");
        assert!(hw.gpu_note.as_deref().unwrap().contains("no NVIDIA driver"));
    }
    let recs = recommend(&Profiles::shipped(), &hw, &f16());
    let general = rec(&recs, "general");
    assert_eq!(general.runs_on, "cpu");
    let (p, _) = Profiles::shipped().llm(&general.model).map(|(p, q)| (p.clone(), q)).unwrap();
    assert!(p.params_b <= 8.5, "{general:?}");
    let image = rec(&recs, "image_generation");
    assert!(!image.fits && image.why.contains("no GPU"), "{image:?}");
    assert_eq!(rec(&recs, "speech").runs_on, "cpu");
    assert!(rec(&recs, "speech").vram_gb > 0.0, "a model on the CPU still takes memory");
}

#[test]
fn one_gpu_with_24_gb_free_gets_the_best_model_that_fits() {
    let hw = machine(Ok(vec![gpu("NVIDIA GeForce RTX 4090", 24.0, 23.5)]));
    assert_eq!((hw.gpus.len(), hw.vram_gb), (1, 24.0));
    let recs = recommend(&Profiles::shipped(), &hw, &f16());
    let general = rec(&recs, "general");
    assert!(general.fits && general.runs_on == "gpu");
    assert_eq!(general.model, "qwen2.5:32b", "{general:?}");
    assert!(general.vram_gb <= 23.5 && general.why.contains("weights"), "{general:?}");
    assert_eq!(rec(&recs, "code").model, "qwen2.5-coder:32b");
    assert_eq!(rec(&recs, "image_generation").model, "flux-dev-fp8");
    assert_eq!(rec(&recs, "speech").model, "whisper:large");
}

#[test]
fn the_model_table_lists_every_profile_with_its_fit_and_kv_cache_by_type() {
    let profiles = Profiles::shipped();
    let hw = machine(Ok(vec![gpu("RTX 3060", 12.0, 11.5)]));
    let table = advice::model_table(&profiles, &hw, &f16());
    assert_eq!(table.len(), profiles.llm.len());
    assert!(table.windows(2).all(|w| w[0].vram_gb <= w[1].vram_gb), "smallest first");
    for m in &table {
        assert_eq!(m.fits, m.vram_gb <= 11.5, "{m:?}");
        assert!(m.kv_cache_gb["q8_0"] < m.kv_cache_gb["f16"] && m.kv_cache_gb["q4_0"] < m.kv_cache_gb["q8_0"], "{m:?}");
    }
    let best = rec(&recommend(&profiles, &hw, &f16()), "general").clone();
    let row = table.iter().find(|m| m.model == best.model).unwrap();
    assert_eq!((row.vram_gb, row.fits), (best.vram_gb, true), "the table agrees with the recommendation");
}

#[test]
fn two_gpus_add_up_but_a_model_is_sized_for_the_roomier_card() {
    let hw = machine(Ok(vec![gpu("RTX 3060", 12.0, 11.0), gpu("RTX 3090", 24.0, 6.0)]));
    assert_eq!(hw.vram_gb, 36.0);
    assert_eq!(hw.best_free_vram(), Some(11.0));
    let general = rec(&recommend(&Profiles::shipped(), &hw, &f16()), "general").clone();
    assert!(general.fits && general.vram_gb <= 11.0, "{general:?}");
    // Quality ties (qwen3:8b, qwen2.5:14b, phi4) go to the one that leaves more room.
    assert_eq!(general.model, "qwen3:8b");
}

#[test]
fn little_free_vram_recommends_small_models_and_says_when_nothing_fits() {
    let hw = machine(Ok(vec![gpu("RTX 4070", 12.0, 2.6)]));
    let recs = recommend(&Profiles::shipped(), &hw, &f16());
    let general = rec(&recs, "general");
    assert!(general.fits && general.vram_gb <= 2.6, "{general:?}");
    let vision = rec(&recs, "vision");
    assert!(!vision.fits && vision.why.contains("nothing for vision fits"), "{vision:?}");
    assert!(!rec(&recs, "image_generation").fits);
}

#[test]
fn configured_vram_stands_in_for_a_gpu_nvml_cannot_see() {
    let hw = discover(&FakeGpus(Err(GpuUnknown("no NVIDIA driver".into()))), Some(12.0));
    assert_eq!(hw.vram_gb, 12.0);
    assert_eq!(hw.gpus[0].vram_free_gb, 12.0);
}

#[test]
fn vram_estimates_are_within_15_percent_of_published_figures() {
    // (tag, context, published total GiB, where it was published)
    let published = [
        ("llama3.1:8b", 8192, 6.2, "ollama/ollama#7622: memory.required.full=6.2 GiB, --ctx-size 8192"),
        ("llama3.2:3b", 8192, 3.7, "ollama/ollama#8098: memory.required.full=3.7 GiB, ctx 2048x4 parallel"),
        ("mistral:7b-instruct-q4_0", 2048, 4.8, "ollama/ollama#6348: memory.required.full=4.8 GiB, --ctx-size 2048"),
        ("gemma2:9b", 8192, 8.4, "ollama/ollama#1495: memory.required.full=8.4 GiB, ctx 8192"),
        // `ollama ps` prints decimal GB cut to a whole number at 10 GB and up: 42 GB = 42.0-42.99 GB, 39.1-40.0 GiB.
        ("llama3:70b-instruct-q4_0", 2048, 42.5e9 / GB, "ollama docs/faq.md: `llama3:70b ... 42 GB 100% GPU`"),
        ("qwen2.5-coder:14b", 4096, 9.5, "olafkfreund/nixos_config#816: 9.5/12 GB on an RTX 3060 (nvidia-smi)"),
    ];
    let profiles = Profiles::shipped();
    for (tag, ctx, figure, source) in published {
        let e = profiles.estimate_llm(tag, &LlmSettings { context: Some(ctx), kv_type: "f16".into() }).unwrap();
        let off = (e.total_gb - figure) / figure;
        assert!(off.abs() <= 0.15, "{tag}: estimated {:.2} GiB vs {figure:.2} published ({source}): {:+.0}%", e.total_gb, off * 100.0);
    }
}

#[test]
fn model_tags_resolve_to_profiles_and_their_quantisation() {
    let p = Profiles::shipped();
    let (prof, quant) = p.llm("llama3.1:8b-instruct-q8_0").unwrap();
    assert_eq!((prof.name.as_str(), quant.as_str()), ("llama3.1:8b", "Q8_0"));
    assert_eq!(p.llm("llama3.1").unwrap().0.name, "llama3.1:8b");
    assert_eq!(p.llm("Mistral:latest").unwrap().1, "Q4_K_M");
    assert_eq!(p.llm("qwen2.5-coder:7b-instruct-fp16").unwrap().1, "F16");
    assert!(p.llm("my-finetune:7b").is_none());
    let q8 = p.estimate_llm("llama3.1:8b-instruct-q8_0", &f16()).unwrap();
    let q4 = p.estimate_llm("llama3.1:8b", &f16()).unwrap();
    assert!(q8.weights_gb > 1.7 * q4.weights_gb, "{q8:?} {q4:?}");
}

#[test]
fn the_kv_cache_type_changes_the_estimate_only_with_flash_attention() {
    let env =
        |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    let p = Profiles::shipped();
    let off = LlmSettings::from_env(env(&[("OLLAMA_KV_CACHE_TYPE", "q8_0"), ("OLLAMA_CONTEXT_LENGTH", "32768")]));
    let on = LlmSettings::from_env(env(&[
        ("OLLAMA_KV_CACHE_TYPE", "q8_0"),
        ("OLLAMA_FLASH_ATTENTION", "1"),
        ("OLLAMA_CONTEXT_LENGTH", "32768"),
    ]));
    assert_eq!((off.kv_type.as_str(), on.kv_type.as_str(), on.context), ("f16", "q8_0", Some(32768)));
    let (a, b) = (p.estimate_llm("llama3.1:8b", &off).unwrap(), p.estimate_llm("llama3.1:8b", &on).unwrap());
    // Llama 3.1 8B at 32K: 4 GiB of f16 KV cache (ollama/ollama#6276).
    assert!((a.kv_cache_gb - 4.0).abs() < 0.01, "{a:?}");
    assert!((b.kv_cache_gb - 2.125).abs() < 0.01, "{b:?}");
    let hw = machine(Ok(vec![gpu("RTX 4090", 24.0, 23.5)]));
    let advice = tuning(&p, &hw, env(&[("OLLAMA_KV_CACHE_TYPE", "q8_0")]));
    assert!(advice.iter().any(|a| a.setting == "OLLAMA_FLASH_ATTENTION=1" && a.why.contains("no effect")), "{advice:?}");
    let advice = tuning(&p, &hw, env(&[]));
    assert!(advice.iter().any(|a| a.setting == "OLLAMA_KV_CACHE_TYPE=q8_0"), "{advice:?}");
    assert!(advice.iter().any(|a| a.setting == "OLLAMA_MAX_LOADED_MODELS=2"), "{advice:?}");
    let big = machine(Ok(vec![gpu("RTX A6000", 48.0, 47.0)]));
    let advice = tuning(&p, &big, env(&[]));
    assert!(advice.iter().any(|a| a.setting == "OLLAMA_MAX_LOADED_MODELS=2" && a.why.contains("fit together")), "{advice:?}");
    let small = machine(Ok(vec![gpu("GTX 1060", 6.0, 5.5)]));
    assert!(tuning(&p, &small, env(&[])).iter().any(|a| a.setting == "OLLAMA_MAX_LOADED_MODELS=1"));
}

#[test]
fn a_measured_figure_wins_and_user_profiles_replace_shipped_ones() {
    let d = tempfile::tempdir().unwrap();
    let user = d.path().join("model_profiles.yaml");
    std::fs::write(
        &user,
        "llm:\n  - {name: \"llama3.1:8b\", params_b: 8.03, quant: Q4_K_M, layers: 32, kv_heads: 8, head_dim: 128, context: 131072,\n     tasks: [general], quality: 7, measured: {vram_gb: 6.0, context: 4096, source: my nvidia-smi}}\n",
    )
    .unwrap();
    let p = Profiles::load(None, Some(&user)).unwrap();
    let at4k = p.estimate_llm("llama3.1:8b", &f16()).unwrap();
    assert_eq!((at4k.total_gb, at4k.basis.as_str()), (6.0, "measured: my nvidia-smi"));
    let at8k = p.estimate_llm("llama3.1:8b", &LlmSettings { context: Some(8192), ..f16() }).unwrap();
    assert_eq!(at8k.total_gb, 6.5); // + 0.5 GiB more KV cache
    std::fs::write(&user, "llm:\n  - {name: x, params_b: 1}\n").unwrap();
    let e = Profiles::load(None, Some(&user)).unwrap_err();
    assert!(e.message.contains("model_profiles.yaml") && e.message.contains("missing field"), "{e}");
}

fn ollama_stand_in(path: &str) -> Reply {
    match path {
        "/api/version" => reply(200, r#"{"version":"0.12.3"}"#),
        "/api/tags" => reply(200, r#"{"models":[{"name":"llama3.2:3b","size":2019393189},{"name":"qwen2.5-coder:7b","size":4683087332}]}"#),
        "/api/ps" => reply(200, r#"{"models":[{"name":"llama3.2:3b","size":3900000000,"size_vram":3900000000}]}"#),
        _ => reply(404, "{}"),
    }
}

#[tokio::test]
async fn services_up_report_version_models_and_loaded_models() {
    let (ollama, _) = stand_in(Arc::new(|p, _| ollama_stand_in(p))).await;
    let (comfy, _) = stand_in(Arc::new(|p, _| match p {
        "/system_stats" => reply(200, r#"{"system":{"os":"posix","comfyui_version":"0.3.40"},"devices":[]}"#),
        "/models/checkpoints" => reply(200, r#"["sd_xl_base_1.0.safetensors"]"#),
        _ => reply(404, "{}"),
    }))
    .await;
    let (sd, _) = stand_in(Arc::new(|p, _| match p {
        "/sdapi/v1/sd-models" => reply(200, r#"[{"title":"v1-5 [abc]","model_name":"v1-5-pruned-emaonly"}]"#),
        _ => reply(404, "{}"),
    }))
    .await;
    let (llama_server, _) = stand_in(Arc::new(|p, _| match p {
        "/v1/models" => reply(200, r#"{"object":"list","data":[{"id":"smollm2-135m"}]}"#),
        _ => reply(404, "{}"),
    }))
    .await;
    let list = vec![
        ("ollama".into(), ServiceKind::Ollama, ollama.clone()),
        ("comfyui".into(), ServiceKind::Comfyui, comfy),
        ("sd".into(), ServiceKind::Sd, sd),
        ("local".into(), ServiceKind::Openai, llama_server),
    ];
    let s = probe_list(list, Duration::from_secs(2)).await;
    let o = &s["ollama"];
    assert!(o.running && o.error.is_none());
    assert_eq!(o.version.as_deref(), Some("0.12.3"));
    assert_eq!(o.models, ["llama3.2:3b", "qwen2.5-coder:7b"]);
    assert_eq!(o.loaded[0].name, "llama3.2:3b");
    assert!((o.loaded[0].vram_gb - 3.63).abs() < 0.01);
    assert_eq!(s["comfyui"].version.as_deref(), Some("0.3.40"));
    assert_eq!(s["comfyui"].models, ["sd_xl_base_1.0.safetensors"]);
    assert_eq!(s["sd"].models, ["v1-5-pruned-emaonly"]);
    assert_eq!(s["local"].models, ["smollm2-135m"]);
}

#[tokio::test]
async fn services_down_or_slow_are_reported_within_the_deadline() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let (slow, _) = stand_in(Arc::new(|_, _| Reply { delay_ms: 30_000, ..reply(200, "{}") })).await;
    let (no_api, _) = stand_in(Arc::new(|_, _| reply(404, "Not Found"))).await;
    let list = vec![
        ("ollama".into(), ServiceKind::Ollama, down.clone()),
        ("comfyui".into(), ServiceKind::Comfyui, slow),
        ("sd".into(), ServiceKind::Sd, no_api),
    ];
    let t = Instant::now();
    let s = probe_list(list, Duration::from_millis(300)).await;
    // The probe gave up at its timeout, not when the slow service answered (no tighter
    // timing: the machines are shared).
    assert!(t.elapsed() < Duration::from_secs(20), "took {:?}", t.elapsed());
    assert!(!s["ollama"].running && s["ollama"].error.as_deref().unwrap().contains("refused"), "{:?}", s["ollama"]);
    assert!(s["ollama"].hint.as_deref().unwrap().contains("ollama serve"));
    assert!(!s["comfyui"].running && s["comfyui"].error.as_deref().unwrap().contains("no answer"), "{:?}", s["comfyui"]);
    assert!(!s["sd"].running && s["sd"].hint.as_deref().unwrap().contains("--api"), "{:?}", s["sd"]);
}

#[tokio::test]
async fn tools_present_and_absent_with_versions_read_once() {
    let d = tempfile::tempdir().unwrap();
    let calls = d.path().join("calls");
    let script = format!("#!/bin/sh\necho x >> {}\necho 'pandoc 3.1.3'\necho 'Features: +server'\n", calls.display());
    let pandoc = d.path().join("pandoc");
    std::fs::write(&pandoc, script).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&pandoc).unwrap().permissions(), 0o755);
    std::fs::set_permissions(&pandoc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(d.path().join("convert"), "not executable").unwrap();
    let cache = d.path().join("cache").join("versions.json");
    let cfg = config("services: {}\n");
    let list = || wanted(&cfg, vec!["pandoc".to_string(), "espeak-ng".to_string()]);
    let found = find_all(list(), d.path().as_os_str().to_owned(), Some(cache.clone())).await;
    assert_eq!(found["pandoc"].version.as_deref(), Some("3.1.3"));
    assert!(found["pandoc"].found && found["pandoc"].path.as_deref().unwrap().ends_with("/pandoc"));
    assert!(!found["blender"].found && found["blender"].version.is_none());
    assert!(!found["imagemagick"].found, "a file without the executable bit is not a tool");
    assert!(found.contains_key("espeak-ng"));
    let again = find_all(list(), d.path().as_os_str().to_owned(), Some(cache)).await;
    assert_eq!(again["pandoc"].version.as_deref(), Some("3.1.3"));
    assert_eq!(std::fs::read_to_string(&calls).unwrap().lines().count(), 1, "the cached version is reused");
}

#[tokio::test]
async fn a_program_is_known_by_what_it_says_not_by_its_name() {
    let d = tempfile::tempdir().unwrap();
    let calls = d.path().join("calls");
    // A stand-in `convert` (some machines ship one) that is not ImageMagick.
    let script = format!("#!/bin/sh\necho x >> {}\necho 'usage: convert FILE.png ppm:-'\nexit 0\n", calls.display());
    let fake = d.path().join("convert");
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cache = d.path().join("v.json");
    let cfg = config("services: {}\n");
    for _ in 0..2 {
        let found = find_all(wanted(&cfg, vec![]), d.path().as_os_str().to_owned(), Some(cache.clone())).await;
        let im = &found["imagemagick"];
        assert!(!im.found && im.version.is_none(), "{im:?}");
        assert!(im.note.as_deref().unwrap().contains("is not imagemagick"), "{im:?}");
    }
    assert_eq!(std::fs::read_to_string(&calls).unwrap().lines().count(), 1, "the answer is cached, not asked again");
    let impostor = crate::tools::binaries::identity_from("convert", Some(("usage: convert FILE.png ppm:-\n", 0))).unwrap();
    assert!(!impostor.genuine && impostor.version.is_none());
    let real =
        crate::tools::binaries::identity_from("convert", Some(("Version: ImageMagick 6.9.11-60 Q16 x86_64 2021-01-25\nCopyright: ...", 0)))
            .unwrap();
    assert!(real.genuine);
    assert_eq!(real.version.as_deref(), Some("6.9.11-60"));
    // A program whose name is not in the table is taken for what it says it is.
    assert!(crate::tools::binaries::identity_from("whisper", Some(("", 0))).unwrap().genuine);
    // A program that did not answer (a cold start past the deadline) is unknown, not an impostor.
    assert_eq!(crate::tools::binaries::identity_from("ffmpeg", None), None);
}

#[test]
fn a_stand_in_that_names_the_program_is_not_the_program() {
    let genuine =
        |program: &str, printed: &str, code: i32| crate::tools::binaries::identity_from(program, Some((printed, code))).unwrap().genuine;
    // Named in its answer, but it exits non-zero or says it is not there.
    assert!(!genuine("convert", "convert: ImageMagick is not installed here, and this stand-in only prints a PNG", 1));
    assert!(!genuine("convert", "ImageMagick is not installed here", 0), "saying so is enough, whatever the exit code");
    assert!(!genuine("convert", "Version: ImageMagick 6.9.11-60 Q16", 1), "a non-zero exit on its version query");
    assert!(!genuine("magick", "magick: command not found (install ImageMagick)", 127));
    assert!(!genuine("ffmpeg", "ffmpeg version: not found; apt install ffmpeg", 0));
    assert!(!genuine("blender", "Blender is not available on this machine", 0));
    assert!(!genuine("pandoc", "pandoc: No such file or directory", 2));
    assert!(!genuine("tesseract", "tesseract: cannot find the tesseract program; install tesseract-ocr", 0));
    assert!(!genuine("sox", "This stands in for SoX: install sox", 0));
    assert!(!genuine("espeak-ng", "eSpeak NG is missing. Could not find espeak-ng", 0));
    // A program not in the table: a shell's "not found", or a shim saying so.
    assert!(!genuine("whisper", "", 127));
    assert!(!genuine("whisper", "pyenv: whisper: command not found", 1));
    assert!(genuine("whisper", "usage: whisper [-h] audio\nwhisper: error: the following arguments are required: audio", 2));
    // The real ones, as they answer.
    assert!(genuine("ffmpeg", "ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers\nbuilt with gcc 12", 0));
    assert!(genuine("convert", "WARNING: The convert command is deprecated in IMv7, use \"magick\"\nVersion: ImageMagick 7.1.1-8 Q16", 0));
    assert!(genuine("tesseract", "tesseract 5.3.0\n leptonica-1.82.0\n Found AVX2\n Found AVX", 0));
    assert!(genuine("espeak-ng", "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/x86_64-linux-gnu/espeak-ng-data", 0));
    assert!(genuine("blender", "Blender 4.0.2\n\tbuild date: 2024-01-01", 0));
}

#[tokio::test]
async fn a_stand_in_convert_that_says_imagemagick_is_not_installed_is_not_imagemagick() {
    let d = tempfile::tempdir().unwrap();
    let fake = d.path().join("convert");
    std::fs::write(&fake, "#!/bin/sh\necho 'convert: ImageMagick is not installed here' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cache = d.path().join("v.json");
    // An answer cached under the earlier rule (which took it for ImageMagick) is judged again.
    let meta = std::fs::metadata(&fake).unwrap();
    let mtime = meta.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let old_key = format!("{}|{}|{mtime}", fake.display(), meta.len());
    std::fs::write(&cache, serde_json::to_string(&json!({old_key: {"version": null, "genuine": true}})).unwrap()).unwrap();
    let found = find_all(wanted(&config("services: {}\n"), vec![]), d.path().as_os_str().to_owned(), Some(cache.clone())).await;
    let im = &found["imagemagick"];
    assert!(!im.found && im.version.is_none(), "{im:?}");
    assert_eq!(
        im.note.as_deref(),
        Some(format!("`{}` is on PATH but is not imagemagick (its version flag does not say so)", fake.display()).as_str())
    );
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert_eq!(written["rules"], json!(2));
}

#[test]
fn versions_are_read_from_the_usual_first_lines() {
    assert_eq!(version_in("Blender 3.4.1").as_deref(), Some("3.4.1"));
    assert_eq!(version_in("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024").as_deref(), Some("5.1.6-0+deb12u1"));
    assert_eq!(version_in("Version: ImageMagick 6.9.11-60 Q16 x86_64").as_deref(), Some("6.9.11-60"));
    assert_eq!(version_in("2024.08.06").as_deref(), Some("2024.08.06"));
    assert_eq!(version_in("tesseract 5.3.0").as_deref(), Some("5.3.0"));
    assert_eq!(version_in("ffmpeg version n6.0 Copyright").as_deref(), Some("6.0"));
    assert_eq!(version_in("no version here"), None);
}

#[test]
fn local_hosts_are_recognised() {
    assert!(is_local("http://localhost:11434") && is_local("http://127.0.0.1:7860/") && is_local("http://[::1]:8188"));
    assert!(!is_local("http://gpu-box.lan:11434") && !is_local("http://10.0.0.5:7860"));
}

fn recipe(dir: &std::path::Path, text: &str) -> crate::recipe::Recipe {
    let f = dir.join("r.yaml");
    std::fs::write(&f, text).unwrap();
    crate::recipe::load(&f).unwrap().0
}

#[test]
fn this_machine_cores_and_ram_agree_with_the_os_and_nothing_hangs() {
    let t = Instant::now();
    let hw = discover(&crate::system::gpus::Discovered, None);
    assert!(t.elapsed() < Duration::from_secs(30), "discovery hung: {:?}", t.elapsed());
    assert_eq!(hw.cpu_cores, std::thread::available_parallelism().unwrap().get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb = |key: &str| meminfo.lines().find(|l| l.starts_with(key)).unwrap().split_whitespace().nth(1).unwrap().parse::<f64>().unwrap();
    assert!((hw.ram_gb - kb("MemTotal:") * 1024.0 / GB).abs() < 0.05, "{} vs /proc/meminfo", hw.ram_gb);
    assert!(hw.ram_available_gb > 0.0 && hw.ram_available_gb <= hw.ram_gb);
    if !std::path::Path::new("/proc/driver/nvidia").exists() {
        assert!(hw.gpus.is_empty(), "no NVIDIA driver here, yet {:?}", hw.gpus);
        assert!(hw.gpu_note.is_some());
    }
}

#[tokio::test]
async fn the_whole_report_with_every_service_down_is_quick() {
    let cfg = config("services:\n  ollama: {host: \"http://127.0.0.1:9\"}\n  sd: {host: \"http://127.0.0.1:9\"}\n  comfyui: {host: \"http://127.0.0.1:9\"}\n");
    let d = tempfile::tempdir().unwrap();
    let probe = Probe { version_cache: Some(d.path().join("v.json")), ..Probe::machine() };
    let t = Instant::now();
    let r = report(&cfg, &Profiles::shipped(), &probe, vec![]).await;
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert!(r.services.values().all(|s| !s.running));
    let doc = serde_json::to_value(&r).unwrap();
    for key in ["cpu_cores", "ram_gb", "vram_gb", "gpus"] {
        assert!(doc["hardware"].get(key).is_some(), "{key}");
    }
    for key in ["task", "model", "vram_gb", "fits", "why"] {
        assert!(doc["recommendations"][0].get(key).is_some(), "{key}");
    }
    assert!(doc["services"]["ollama"].get("models").is_some() && doc["tools"]["ffmpeg"].get("found").is_some());
}

#[test]
fn ollama_default_context_follows_its_version_and_the_vram() {
    let d = |v: Option<&str>, vram: f64| LlmSettings::default().with_ollama_default(v, vram).context;
    assert_eq!(d(Some("0.5.7"), 24.0), Some(2048));
    assert_eq!(d(Some("0.12.3"), 24.0), Some(4096));
    assert_eq!(d(Some("0.15.5"), 12.0), Some(4096));
    assert_eq!(d(Some("0.15.5"), 24.0), Some(32_768));
    assert_eq!(d(Some("v0.16.0-rc1"), 80.0), Some(262_144));
    assert_eq!(d(None, 80.0), Some(4096));
    let set = LlmSettings { context: Some(8192), ..LlmSettings::default() };
    assert_eq!(set.with_ollama_default(Some("0.15.5"), 80.0).context, Some(8192), "OLLAMA_CONTEXT_LENGTH wins");
    // On a 24 GB card a new Ollama loads llama3.1:8b with 32K context: 4 GiB of KV cache, not 0.5.
    let p = Profiles::shipped();
    let e = p.estimate_llm("llama3.1:8b", &LlmSettings::default().with_ollama_default(Some("0.15.5"), 24.0)).unwrap();
    assert_eq!((e.context, e.kv_cache_gb), (32_768, 4.0));
    let e = p.estimate_llm("gemma2:9b", &LlmSettings::default().with_ollama_default(Some("0.15.5"), 80.0)).unwrap();
    assert_eq!(e.context, 8192, "capped at the model's own context");
}

#[tokio::test]
async fn an_unknown_host_is_not_called_refused() {
    let s =
        probe_list(vec![("ollama".into(), ServiceKind::Ollama, "http://no-such-host.invalid:11434".into())], Duration::from_secs(2)).await;
    let e = s["ollama"].error.clone().unwrap();
    assert!(e.starts_with("cannot connect") || e.contains("no answer"), "{e}");
    assert!(!e.contains("refused"), "{e}");
}

#[tokio::test]
async fn a_service_the_user_set_is_told_from_a_default_one() {
    let cfg = config("services:\n  sd: {host: 'http://127.0.0.1:9'}\n");
    let found = super::services::probe_all(&cfg, Duration::from_millis(300)).await;
    assert!(found["sd"].configured, "set in the file");
    assert!(!found["ollama"].configured && !found["comfyui"].configured, "built-in defaults only");
    assert!(cfg.user_set("services.sd.host") && !cfg.user_set("services.ollama"));
}

#[test]
fn steps_that_can_never_fit_this_machine_are_refused() {
    if cfg!(all(target_os = "macos", target_arch = "aarch64")) {
        return; // Apple Silicon always has its unified-memory GPU
    }
    let d = tempfile::tempdir().unwrap();
    let text = "name: r\nsteps:\n  - {id: big_ram, tool: script, action: run, resources: {ram_gb: 5000}, inputs: {command: 'true'}}\n  - {id: wants_gpu, tool: script, action: run, resources: {gpu: true, vram_gb: 500}, inputs: {command: 'true'}}\n  - {id: fine, tool: script, action: run, resources: {ram_gb: 1}, inputs: {command: 'true'}}\n";
    let r = recipe(d.path(), text);
    let cfg = config("services: {}\n");
    let tools = crate::tools::Registry::configured(&cfg);
    let p = Profiles::shipped();
    let needs = step_needs(&r, &Map::new(), &tools, &p, &f16());
    let hw = machine(Err(GpuUnknown("no NVIDIA driver".into())));
    let pf = check(needs, &Machine { hardware: Some(hw), services: IndexMap::new(), configured: vec![] }, &p, &f16(), "r.yaml");
    let messages: Vec<&str> = pf.problems.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(pf.problems.len(), 2, "{messages:?}");
    assert!(messages[0].starts_with("step `big_ram` declares 5000.0 GB of RAM (`resources.ram_gb`); this machine has"), "{messages:?}");
    assert_eq!(messages[1], "step `wants_gpu` declares a GPU in its `resources`, and this machine has none");
    assert!(pf.problems.iter().all(|d| d.hint.as_deref().is_some_and(|h| h.contains("--force"))));
    assert!(pf.problems.iter().all(|d| d.line.is_some()), "each names the step's line");
}

#[tokio::test]
async fn a_declared_need_alone_is_checked_ram_or_gpu() {
    if cfg!(all(target_os = "macos", target_arch = "aarch64")) {
        return; // Apple Silicon always has its unified-memory GPU
    }
    let d = tempfile::tempdir().unwrap();
    let cfg = config("services: {}\n");
    let tools = crate::tools::Registry::configured(&cfg);
    let no_gpu = Probe { gpus: Arc::new(FakeGpus(Err(GpuUnknown("no NVIDIA driver".into())))), ..Probe::machine() };
    let run = |text: String, probe: Probe| {
        let (r, cfg, tools) = (recipe(d.path(), &text), cfg.clone(), tools.clone());
        async move { preflight::run(&cfg, &r, &Map::new(), &tools, &probe).await }
    };
    let step = |resources: &str| {
        format!("name: r\nsteps:\n  - {{id: a, tool: script, action: run, resources: {resources}, inputs: {{command: 'true'}}}}\n")
    };
    // No VRAM figure anywhere: the machine is probed all the same.
    let shown = |pf: preflight::Preflight| -> Vec<String> {
        pf.problems.iter().map(|p| p.to_string().replace(&format!("{}/", d.path().display()), "")).collect()
    };
    let messages = shown(run(step("{ram_gb: 5000}"), no_gpu.clone()).await);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("r.yaml:3:5: step `a` declares 5000.0 GB of RAM (`resources.ram_gb`); this machine has"),
        "{messages:?}"
    );
    assert!(messages[0].ends_with(
        "hint: lower the step's `resources.ram_gb`, or run it on a machine with more memory; or run with --force to try anyway"
    ));
    let messages = shown(run(step("{gpu: true}"), no_gpu.clone()).await);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0]
        .starts_with("r.yaml:3:5: step `a` declares a GPU in its `resources`, and this machine has none\n  hint: drop `gpu`/`vram_gb`"));
    // The recipe's own `resources` count for every step, a batch's sub-steps included.
    let whole = "name: r\nresources: {gpu: true}\nsteps:\n  - {id: a, tool: script, action: run, inputs: {command: 'true'}}\n";
    assert_eq!(run(whole.into(), no_gpu.clone()).await.problems.len(), 1);
    let sub = "name: r\nsteps:\n  - id: b\n    tool: batch\n    action: foreach\n    inputs:\n      items: [1]\n      workflow_steps:\n        - {id: s, tool: script, action: run, resources: {ram_gb: 5000}, inputs: {command: 'true'}}\n";
    let pf = run(sub.into(), no_gpu.clone()).await;
    assert!(pf.problems.iter().any(|p| p.message.starts_with("step `b.s` declares 5000.0 GB of RAM")), "{:?}", pf.problems);
    // A refinement step runs when its step fails: what it declares is checked before too.
    let refine = "name: r\nsteps:\n  - id: a\n    tool: script\n    action: run\n    on_failure: refine\n    inputs: {command: 'true'}\n    refinement:\n      steps:\n        - {id: fix, tool: script, action: run, resources: {ram_gb: 5000}, inputs: {command: 'true'}}\n";
    let pf = run(refine.into(), no_gpu.clone()).await;
    assert!(pf.problems.iter().any(|p| p.message.starts_with("step `a.fix` declares 5000.0 GB of RAM")), "{:?}", pf.problems);
    let global = "name: r\nrefinement:\n  steps:\n    - {id: fix, tool: script, action: run, resources: {gpu: true}, inputs: {command: 'true'}}\nsteps:\n  - {id: a, tool: script, action: run, inputs: {command: 'true'}}\n";
    assert_eq!(run(global.into(), no_gpu.clone()).await.problems.len(), 1, "the recipe's refinement steps");
    // A GPU here, RAM that fits: nothing to refuse.
    let one_gpu = Probe { gpus: Arc::new(FakeGpus(Ok(vec![gpu("RTX 4090", 24.0, 20.0)]))), ..Probe::machine() };
    assert!(run(step("{gpu: true, ram_gb: 0.5}"), one_gpu).await.problems.is_empty());
    // Steps that run elsewhere (an executor's cluster) are not held to this machine.
    let elsewhere = Probe { steps_here: false, ..no_gpu };
    assert!(run(step("{gpu: true, ram_gb: 5000}"), elsewhere).await.problems.is_empty());
}
