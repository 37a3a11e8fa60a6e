//! Model recommendations per task for this machine, and Ollama tuning advice.

use super::hardware::Hardware;
use super::profiles::{LlmEstimate, LlmSettings, Profiles};
use serde::Serialize;

pub const LLM_TASKS: &[&str] = &["general", "chat", "code", "vision", "summarization"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub task: String,
    pub model: String,
    pub vram_gb: f64,
    pub fits: bool,
    /// `gpu`, or `cpu` when it runs from RAM.
    pub runs_on: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    pub setting: String,
    pub why: String,
}

/// Memory models may use, and where they run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub gb: f64,
    pub gpu: bool,
    /// Largest LLM (billions of parameters) that answers at a usable speed here.
    pub max_params_b: f64,
}

impl Budget {
    pub fn of(hw: &Hardware) -> Budget {
        match hw.gpus.iter().max_by(|a, b| a.vram_free_gb.total_cmp(&b.vram_free_gb)) {
            // macOS lets the GPU use about three quarters of unified memory.
            Some(g) if g.unified => Budget { gb: g.vram_free_gb * 0.75, gpu: true, max_params_b: f64::INFINITY },
            Some(g) => Budget { gb: g.vram_free_gb, gpu: true, max_params_b: f64::INFINITY },
            None => Budget { gb: hw.ram_available_gb * 0.6, gpu: false, max_params_b: if hw.cpu_cores >= 8 { 8.5 } else { 4.0 } },
        }
    }

    fn place(&self) -> String {
        if self.gpu {
            format!("{:.1} GB free VRAM", self.gb)
        } else {
            format!("the CPU (no GPU; {:.1} GB RAM to spare, up to {}B parameters at a usable speed)", self.gb, self.max_params_b)
        }
    }
}

fn breakdown(e: &LlmEstimate) -> String {
    match e.basis.as_str() {
        "formula" => format!("~{:.1} GB = {}", e.total_gb, e.parts()),
        _ => format!("~{:.1} GB ({})", e.total_gb, e.parts()),
    }
}

/// The best model of `task` within `budget`, or the smallest one (with `fits: false`).
pub fn best_llm(profiles: &Profiles, task: &str, budget: Budget, settings: &LlmSettings) -> Option<(LlmEstimate, bool)> {
    let mut candidates: Vec<(LlmEstimate, u8, f64)> = profiles
        .llm
        .iter()
        .filter(|p| p.tasks.iter().any(|t| t == task))
        .map(|p| {
            let ctx = settings.context.unwrap_or(profiles.default_context).min(p.context);
            // A model made for the task (listed first) ranks a step above a generalist of the same quality.
            let quality = p.quality * 2 + u8::from(p.tasks.first().is_some_and(|t| t == task));
            (profiles.estimate_profile(p, &p.quant, ctx, &settings.kv_type), quality, p.params_b)
        })
        .collect();
    candidates.sort_by(|a, b| a.0.total_gb.total_cmp(&b.0.total_gb));
    let fits = |c: &(LlmEstimate, u8, f64)| c.0.total_gb <= budget.gb && c.2 <= budget.max_params_b;
    match candidates.iter().filter(|c| fits(c)).max_by(|a, b| a.1.cmp(&b.1).then(b.0.total_gb.total_cmp(&a.0.total_gb))) {
        Some(c) => Some((c.0.clone(), true)),
        None => candidates.first().map(|c| (c.0.clone(), false)),
    }
}

/// One LLM profile measured against this machine: its memory at the machine's settings,
/// what the KV cache takes at each cache type, and whether it fits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFit {
    pub model: String,
    pub tasks: Vec<String>,
    pub params_b: f64,
    pub quant: String,
    pub context: u32,
    pub vram_gb: f64,
    /// KV cache in GB by `OLLAMA_KV_CACHE_TYPE` (`f16`, `q8_0`, `q4_0`) at `context`.
    pub kv_cache_gb: indexmap::IndexMap<String, f64>,
    pub fits: bool,
    /// `gpu`, or `cpu` when it runs from RAM.
    pub runs_on: String,
}

/// Every LLM profile with its memory and fit on this machine, smallest first: what the
/// seeds quote ("your GPU has 12 GB free: qwen2.5:14b fits (~10.3 GB)").
pub fn model_table(profiles: &Profiles, hw: &Hardware, settings: &LlmSettings) -> Vec<ModelFit> {
    let budget = Budget::of(hw);
    let mut out: Vec<ModelFit> = profiles
        .llm
        .iter()
        .map(|p| {
            let ctx = settings.context.unwrap_or(profiles.default_context).min(p.context);
            let e = profiles.estimate_profile(p, &p.quant, ctx, &settings.kv_type);
            let kv_cache_gb = ["f16", "q8_0", "q4_0"]
                .iter()
                .map(|k| (k.to_string(), profiles.estimate_profile(p, &p.quant, ctx, k).kv_cache_gb))
                .collect();
            ModelFit {
                model: p.name.clone(),
                tasks: p.tasks.clone(),
                params_b: p.params_b,
                quant: e.quant,
                context: ctx,
                vram_gb: e.total_gb,
                kv_cache_gb,
                fits: e.total_gb <= budget.gb && p.params_b <= budget.max_params_b,
                runs_on: if budget.gpu { "gpu" } else { "cpu" }.into(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.vram_gb.total_cmp(&b.vram_gb).then_with(|| a.model.cmp(&b.model)));
    out
}

pub fn recommend(profiles: &Profiles, hw: &Hardware, settings: &LlmSettings) -> Vec<Recommendation> {
    let budget = Budget::of(hw);
    let runs_on = if budget.gpu { "gpu" } else { "cpu" }.to_string();
    let mut out = Vec::new();
    for task in LLM_TASKS {
        if let Some((e, fits)) = best_llm(profiles, task, budget, settings) {
            let why = if fits {
                format!("best {task} model for {}: {}", budget.place(), breakdown(&e))
            } else {
                format!("nothing for {task} fits {}; the smallest needs {}", budget.place(), breakdown(&e))
            };
            out.push(Recommendation { task: task.to_string(), model: e.model, vram_gb: e.total_gb, fits, runs_on: runs_on.clone(), why });
        }
    }
    out.extend(image(profiles, budget));
    out.extend(speech(profiles, hw, budget));
    out
}

fn image(profiles: &Profiles, budget: Budget) -> Option<Recommendation> {
    let sized: Vec<(f64, &super::profiles::ImageProfile)> =
        profiles.image.iter().map(|p| (Profiles::estimate_image(p, p.native, p.native), p)).collect();
    let smallest = sized.iter().min_by(|a, b| a.0.total_cmp(&b.0))?;
    let task = "image_generation".to_string();
    if !budget.gpu {
        return Some(Recommendation {
            task,
            model: smallest.1.name.clone(),
            vram_gb: smallest.0,
            fits: false,
            runs_on: "cpu".into(),
            why: format!(
                "no GPU: {} takes minutes per {}px image on a CPU; a GPU with {:.0} GB free is the practical minimum",
                smallest.1.family,
                smallest.1.native,
                smallest.0.ceil()
            ),
        });
    }
    let best = sized.iter().filter(|s| s.0 <= budget.gb).max_by_key(|s| s.1.quality);
    Some(match best {
        Some((gb, p)) => Recommendation {
            task,
            model: p.name.clone(),
            vram_gb: *gb,
            fits: true,
            runs_on: "gpu".into(),
            why: format!("{} at {}x{} needs ~{gb:.1} GB; {}", p.family, p.native, p.native, budget.place()),
        },
        None => Recommendation {
            task,
            model: smallest.1.name.clone(),
            vram_gb: smallest.0,
            fits: false,
            runs_on: "gpu".into(),
            why: format!("{} needs ~{:.1} GB; only {}", smallest.1.family, smallest.0, budget.place()),
        },
    })
}

fn speech(profiles: &Profiles, hw: &Hardware, budget: Budget) -> Option<Recommendation> {
    let task = "speech".to_string();
    if !budget.gpu {
        let name = if hw.cpu_cores >= 8 { "whisper:small" } else { "whisper:base" };
        let p = profiles.speech.iter().find(|p| p.name == name).or(profiles.speech.first())?;
        return Some(Recommendation {
            task,
            model: p.name.clone(),
            // Memory in RAM on the CPU, as for LLMs on the CPU: the profile's figure is an upper bound for int8.
            vram_gb: p.vram_gb,
            fits: true,
            runs_on: "cpu".into(),
            why: format!("no GPU: faster-whisper (int8) runs `{}` on {} cores at about real time or better", p.name, hw.cpu_cores),
        });
    }
    let fitting = profiles.speech.iter().filter(|p| p.vram_gb <= budget.gb).max_by_key(|p| p.quality);
    let p = fitting.or_else(|| profiles.speech.iter().min_by(|a, b| a.vram_gb.total_cmp(&b.vram_gb)))?;
    Some(Recommendation {
        task,
        model: p.name.clone(),
        vram_gb: p.vram_gb,
        fits: fitting.is_some(),
        runs_on: "gpu".into(),
        why: format!("Whisper `{}` needs ~{:.0} GB (openai/whisper README); {}", p.name, p.vram_gb, budget.place()),
    })
}

/// The 0.x-documented Ollama settings, where they apply to this machine. `env` reads
/// this process's environment (the one Ollama is usually started from).
pub fn tuning(profiles: &Profiles, hw: &Hardware, env: impl Fn(&str) -> Option<String>) -> Vec<Advice> {
    let budget = Budget::of(hw);
    let mut out = Vec::new();
    let flash = env("OLLAMA_FLASH_ATTENTION").is_some_and(|v| super::profiles::truthy(&v));
    let kv = env("OLLAMA_KV_CACHE_TYPE").unwrap_or_default().to_lowercase();
    if budget.gpu && !flash {
        out.push(Advice {
            setting: "OLLAMA_FLASH_ATTENTION=1".into(),
            why: "faster attention with less memory on the GPU; Ollama needs it to quantise the KV cache".into(),
        });
    }
    if !kv.is_empty() && kv != "f16" && !flash {
        out.push(Advice {
            setting: "OLLAMA_FLASH_ATTENTION=1".into(),
            why: format!("OLLAMA_KV_CACHE_TYPE={kv} has no effect without flash attention; estimates here assume f16"),
        });
    }
    let general = LlmSettings { context: Some(8192), kv_type: "f16".into() };
    if budget.gpu && (kv.is_empty() || kv == "f16") {
        if let Some((f16, _)) = best_llm(profiles, "general", budget, &general) {
            let q8 = profiles.estimate_llm(&f16.model, &LlmSettings { kv_type: "q8_0".into(), ..general.clone() });
            if let Some(q8) = q8 {
                out.push(Advice {
                    setting: "OLLAMA_KV_CACHE_TYPE=q8_0".into(),
                    why: format!(
                        "halves the KV cache at almost no quality cost ({} at 8192 context: {:.2} → {:.2} GB); needs OLLAMA_FLASH_ATTENTION=1",
                        f16.model, f16.kv_cache_gb, q8.kv_cache_gb
                    ),
                });
            }
        }
    }
    // Two models side by side: the best general and code models within half the memory each.
    let settings = LlmSettings::from_env(&env);
    let half = Budget { gb: budget.gb / 2.0, ..budget };
    let pair = (best_llm(profiles, "general", half, &settings), best_llm(profiles, "code", half, &settings));
    match pair {
        (Some((g, true)), Some((c, true))) if budget.gpu && budget.gb >= 12.0 && g.model != c.model => out.push(Advice {
            setting: "OLLAMA_MAX_LOADED_MODELS=2".into(),
            why: format!(
                "{} and {} fit together ({:.1} + {:.1} GB of {:.1} GB): recipes that switch between them do not reload",
                g.model, c.model, g.total_gb, c.total_gb, budget.gb
            ),
        }),
        _ if budget.gb < 8.0 => out.push(Advice {
            setting: "OLLAMA_MAX_LOADED_MODELS=1".into(),
            why: format!("with {}, a second model would push the first out of memory (or onto the CPU) anyway", budget.place()),
        }),
        _ => {}
    }
    out
}
