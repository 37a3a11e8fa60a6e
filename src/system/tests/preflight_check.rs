//! The preflight check: every unmet need at once, each with a fix; the texts pinned.

use super::*;

const LLM_RECIPE: &str = "name: r\ninputs:\n  - {name: model, default: \"llama3.1:70b\"}\nsteps:\n  - id: draft\n    tool: ollama\n    action: generate\n    inputs: {prompt: hi, model: \"{{ inputs.model }}\"}\n  - id: picture\n    tool: sd_client\n    action: txt2img\n    inputs: {prompt: \"{{ steps.draft.outputs.response }}\", width: 1024, height: 1024}\n";

fn preflight_of(hw: Hardware, services: IndexMap<String, Service>, inputs: Map<String, serde_json::Value>) -> preflight::Preflight {
    let d = tempfile::tempdir().unwrap();
    let r = recipe(d.path(), LLM_RECIPE);
    let cfg = config("services: {}\n");
    let tools = crate::tools::Registry::configured(&cfg);
    let p = Profiles::shipped();
    let needs = step_needs(&r, &inputs, &tools, &p, &f16());
    check(needs, &Machine { hardware: Some(hw), services, configured: vec![] }, &p, &f16(), "r.yaml")
}

async fn services_with(ollama: &str) -> IndexMap<String, Service> {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    probe_list(vec![("ollama".into(), ServiceKind::Ollama, ollama.into()), ("sd".into(), ServiceKind::Sd, down)], Duration::from_secs(1))
        .await
}

#[tokio::test]
async fn preflight_reports_every_unmet_need_at_once_with_a_fix() {
    let (ollama, _) = stand_in(Arc::new(|p, _| ollama_stand_in(p))).await;
    let services = services_with(&ollama).await;
    let inputs = json!({"model": "llama3.1:70b"}).as_object().unwrap().clone();
    let pf = preflight_of(machine(Ok(vec![gpu("RTX 4090", 24.0, 20.0)])), services, inputs);
    let msgs: Vec<String> = pf.problems.iter().map(|d| format!("{} | {}", d.message, d.hint.clone().unwrap_or_default())).collect();
    assert_eq!(pf.problems.len(), 3, "{msgs:#?}");
    assert!(msgs.iter().any(|m| m.contains("`llama3.1:70b`, which `ollama`") && m.contains("ollama pull llama3.1:70b")), "{msgs:#?}");
    // 20 GB free + 3.63 GB held by the loaded llama3.2:3b, which Ollama would unload.
    let vram = msgs.iter().find(|m| m.contains("needs ~")).unwrap();
    assert!(vram.contains("this GPU has 23.6 GB free") && vram.contains("fits") && vram.contains("--force"), "{vram}");
    assert!(msgs.iter().any(|m| m.contains("step `picture` needs `sd`") && m.contains("--api")), "{msgs:#?}");
    let picture = pf.needs.iter().find(|n| n.id == "picture").unwrap();
    assert_eq!((picture.basis.as_deref(), picture.vram_gb), (Some("Stable Diffusion XL at 1024x1024"), Some(9.16)));
    assert_eq!(pf.problems[0].line, Some(5));
    assert!(picture.unknown.iter().any(|n| n.contains("input `prompt`")), "{picture:?}");
}

#[tokio::test]
async fn preflight_passes_when_the_model_is_installed_and_fits() {
    let (ollama, _) = stand_in(Arc::new(|p, _| ollama_stand_in(p))).await;
    let mut services = services_with(&ollama).await;
    services.shift_remove("sd");
    let d = tempfile::tempdir().unwrap();
    let r = recipe(
        d.path(),
        "name: r\nsteps:\n  - id: a\n    tool: ollama\n    action: chat\n    inputs: {prompt: hi, model: \"qwen2.5-coder:7b\"}\n",
    );
    let cfg = config("services: {}\n");
    let tools = crate::tools::Registry::configured(&cfg);
    let p = Profiles::shipped();
    let needs = step_needs(&r, &Map::new(), &tools, &p, &f16());
    assert_eq!(needs[0].model.as_deref(), Some("qwen2.5-coder:7b"));
    let pf = check(
        needs.clone(),
        &Machine { hardware: Some(machine(Ok(vec![gpu("RTX 3060", 12.0, 11.0)]))), services: services.clone(), configured: vec![] },
        &p,
        &f16(),
        "r",
    );
    assert!(pf.problems.is_empty(), "{:?}", pf.problems);
    // Without a GPU it runs from RAM: only RAM is checked.
    let cpu_only = machine(Err(GpuUnknown("no NVIDIA driver".into())));
    let pf = check(needs, &Machine { hardware: Some(cpu_only.clone()), services, configured: vec![] }, &p, &f16(), "r");
    assert_eq!(pf.problems.is_empty(), cpu_only.ram_available_gb >= 5.4, "{:?}", pf.problems);
}

/// Every problem and note the check can write, with their hints, as a user reads them.
#[tokio::test]
async fn preflight_texts() {
    let (ollama, _) = stand_in(Arc::new(|p, _| ollama_stand_in(p))).await;
    let services = services_with(&ollama).await;
    let sd = services["sd"].url.clone();
    let inputs = json!({"model": "llama3.1:70b"}).as_object().unwrap().clone();
    let mut texts = Vec::new();
    let mut show = |title: &str, pf: preflight::Preflight| {
        texts.push(format!("## {title}"));
        for d in &pf.problems {
            texts.push(format!("problem: {}\n  hint: {}", d.message, d.hint.as_deref().unwrap_or("-")));
        }
        texts.extend(pf.notes.iter().map(|n| format!("note: {n}")));
    };
    show("a 24 GB GPU, 20 GB free", preflight_of(machine(Ok(vec![gpu("RTX 4090", 24.0, 20.0)])), services.clone(), inputs.clone()));
    let mut cpu = machine(Err(GpuUnknown("no NVIDIA driver".into())));
    (cpu.ram_gb, cpu.ram_available_gb, cpu.cpu_cores) = (16.0, 12.0, 4); // the same advice on every machine
    show("no GPU, 12 GB of RAM available", preflight_of(cpu.clone(), services.clone(), inputs));
    let d = tempfile::tempdir().unwrap();
    let declared = recipe(
        d.path(),
        "name: r\nsteps:\n  - {id: big, tool: file_ops, action: mkdir, inputs: {path: x}, resources: {ram_gb: 64, gpu: true}}\n  - {id: ask, tool: ollama, action: generate, inputs: {prompt: hi}}\n",
    );
    let tools = crate::tools::Registry::configured(&config("services: {}\n"));
    let needs = step_needs(&declared, &Map::new(), &tools, &Profiles::shipped(), &f16());
    let machine = Machine { hardware: Some(cpu), services: IndexMap::new(), configured: vec!["sd".into()] };
    show("resources declared; a service not configured", check(needs, &machine, &Profiles::shipped(), &f16(), "r.yaml"));
    let text = texts.join("\n").replace(&ollama, "<OLLAMA>").replace(&sd, "<SD>");
    insta::assert_snapshot!(text);
}
