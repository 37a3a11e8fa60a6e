//! Before the first step: what every step needs (service, model, VRAM), checked
//! against this machine, with every problem reported at once and a fix for each.

use super::advice::{best_llm, Budget};
use super::hardware::Hardware;
use super::profiles::{LlmSettings, Profiles};
use super::services::{Service, ServiceKind};
use crate::diag::Diagnostic;
use crate::recipe::{Recipe, Step};
use crate::template::{render_value, to_value, RunParts, RunScope, Scope, StepTable};
use crate::tools::{Needs, Registry};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// What one step will hold while it runs, as far as is known before the run.
#[derive(Debug, Clone, Serialize)]
pub struct StepNeed {
    pub id: String,
    pub tool: String,
    pub service: Option<String>,
    /// The step's own host for its service (`host:` in its inputs), if it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub model: Option<String>,
    pub gpu: bool,
    pub vram_gb: Option<f64>,
    pub ram_gb: Option<f64>,
    pub cpu: u32,
    /// How `vram_gb` was worked out.
    pub basis: Option<String>,
    /// What cannot be known before the run (a model named by an earlier step's output...).
    pub unknown: Vec<String>,
    /// The card it must run on (`resources.gpu: 1` or a UUID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// May spread over several cards (`resources.split`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub split: bool,
    #[serde(skip)]
    pub line: usize,
    #[serde(skip)]
    pub col: usize,
    #[serde(skip)]
    llm_context: Option<u32>,
    /// The step's (or recipe's) `resources` ask for a GPU.
    #[serde(skip)]
    declared_gpu: bool,
}

impl StepNeed {
    /// Whether the step holds memory or a GPU, so the machine's hardware must be known to check it.
    fn holds_memory(&self) -> bool {
        self.vram_gb.is_some() || self.ram_gb.is_some_and(|r| r > 0.0) || self.declared_gpu
    }

    /// Whether its `resources` (the step's or the recipe's) ask for a GPU.
    pub fn declared_gpu(&self) -> bool {
        self.declared_gpu
    }
}

/// What preflight knows of the machine.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub hardware: Option<Hardware>,
    /// The services the recipe uses, probed.
    pub services: IndexMap<String, Service>,
    /// Every service the configuration defines (with a host).
    pub configured: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Preflight {
    pub needs: Vec<StepNeed>,
    pub problems: Vec<Diagnostic>,
    pub notes: Vec<String>,
    /// What was found of the machine (only what the recipe's needs asked for).
    #[serde(skip)]
    pub machine: Machine,
}

/// The static scope: inputs, config and templates; `steps.*` are not known yet.
fn static_scope(recipe: &Recipe, inputs: &Map<String, Value>) -> Scope {
    let parts = RunParts {
        inputs: to_value(&Value::Object(inputs.clone())),
        config: to_value(&Value::Object(recipe.config.clone())),
        templates: recipe.templates.clone(),
        workflow: to_value(&json!({"run_id": "preflight", "name": recipe.name})),
        temp_dir: to_value(&json!("/tmp")),
    };
    Scope::new(RunScope::new(parts, Arc::new(StepTable::default())))
}

/// Every tool step's needs (batch sub-steps included), from its inputs rendered as far as
/// they can be, the tool's defaults, and the step's (or the recipe's) `resources`.
pub fn step_needs(
    recipe: &Recipe,
    inputs: &Map<String, Value>,
    tools: &Registry,
    profiles: &Profiles,
    settings: &LlmSettings,
) -> Vec<StepNeed> {
    let scope = static_scope(recipe, inputs);
    let mut out = Vec::new();
    let mut add = |step: &Step, id: String| out.extend(need_of(step, &id, recipe, &scope, tools, profiles, settings));
    // Refinement steps too (a step's own, a `type: refinement` step's, the recipe's, a
    // sub-step's): they run when a step fails, and need what they need then.
    for step in &recipe.steps {
        if !step.is_refinement() {
            add(step, step.id.clone());
        }
        for child in step.children() {
            add(child, format!("{}.{}", step.id, child.id));
        }
        for sub in step.batch.iter().flatten() {
            add(sub, format!("{}.{}", step.id, sub.id));
            for child in sub.children() {
                add(child, format!("{}.{}.{}", step.id, sub.id, child.id));
            }
        }
    }
    for child in &recipe.refinement {
        add(child, child.id.clone());
    }
    out
}

fn need_of(
    step: &Step,
    id: &str,
    recipe: &Recipe,
    scope: &Scope,
    tools: &Registry,
    profiles: &Profiles,
    settings: &LlmSettings,
) -> Option<StepNeed> {
    let (tool, action) = step.tool_action()?;
    let t = tools.get(tool);
    // A tool that needs nothing whatever its inputs (file_ops, script, ...) is not rendered here.
    let needs_nothing = t.is_none_or(|t| t.needs(action, &Map::new()) == Needs::default());
    let mut unknown = Vec::new();
    let mut rendered = Map::new();
    for (k, v) in step.inputs.iter().filter(|_| !needs_nothing) {
        match render_value(v, scope) {
            Ok(v) => {
                rendered.insert(k.clone(), v);
            }
            Err(_) => unknown.push(format!("input `{k}` (known only at run time)")),
        }
    }
    let needs = t.map(|t| t.needs(action, &rendered)).unwrap_or_default();
    let declared = step.resources.clone().or_else(|| recipe.resources.clone()).unwrap_or_default();
    let mut need = StepNeed {
        id: id.to_string(),
        tool: format!("{tool}.{action}"),
        service: needs.service.clone(),
        host: needs.host.clone(),
        model: needs.llm.clone(),
        gpu: declared.gpu.unwrap_or(needs.gpu),
        vram_gb: None,
        ram_gb: declared.ram_gb,
        cpu: declared.cpu.unwrap_or(1),
        basis: None,
        unknown,
        card: declared.card.clone(),
        split: declared.split.unwrap_or(false),
        line: step.line,
        col: step.col,
        llm_context: needs.llm_context,
        declared_gpu: declared.gpu == Some(true) || declared.vram_gb.is_some_and(|v| v > 0.0),
    };
    if let Some(v) = declared.vram_gb {
        need.vram_gb = Some(v);
        need.basis = Some("declared in `resources`".into());
        need.gpu = declared.gpu.unwrap_or(v > 0.0);
    } else {
        vram_from_profiles(&mut need, &needs, profiles, settings);
    }
    Some(need)
}

fn vram_from_profiles(need: &mut StepNeed, needs: &Needs, profiles: &Profiles, settings: &LlmSettings) {
    if let Some(model) = &needs.llm {
        let s = LlmSettings { context: needs.llm_context.or(settings.context), ..settings.clone() };
        match profiles.estimate_llm(model, &s) {
            Some(e) => {
                need.vram_gb = Some(e.total_gb);
                need.basis = Some(e.parts());
            }
            None => need.unknown.push(format!("VRAM of `{model}` (no model profile; add it to ~/.localforge/model_profiles.yaml)")),
        }
    } else if let Some((w, h, checkpoint)) = &needs.image {
        let p = checkpoint.as_deref().and_then(|c| profiles.image_for_checkpoint(c)).or_else(|| profiles.image_for_size(*w, *h));
        if let Some(p) = p {
            need.vram_gb = Some(Profiles::estimate_image(p, *w, *h));
            need.basis = Some(format!("{} at {w}x{h}", p.family));
        }
    } else if let Some(v) = needs.vram_gb {
        need.vram_gb = Some(v);
        need.basis = Some("the tool's `min_vram_gb`".into());
    }
}

/// Whether a service URL points at this machine (only then is its VRAM ours to check).
pub fn is_local(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    matches!(host, "localhost" | "0.0.0.0" | "::1" | "") || host.starts_with("127.")
}

fn same_model(a: &str, b: &str) -> bool {
    let norm = |m: &str| if m.contains(':') { m.to_string() } else { format!("{m}:latest") };
    norm(a) == norm(b)
}

/// Check the needs against the machine. Problems fail the run (unless forced); notes are told.
pub fn check(needs: Vec<StepNeed>, machine: &Machine, profiles: &Profiles, settings: &LlmSettings, file: &str) -> Preflight {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let at = |n: &StepNeed, msg: String| Diagnostic::new(msg).in_file(file).at(n.line, n.col);
    // Services: one problem per service, naming every step that needs it.
    let mut by_service: IndexMap<&str, Vec<&StepNeed>> = IndexMap::new();
    for n in &needs {
        if let Some(s) = &n.service {
            by_service.entry(s.as_str()).or_default().push(n);
        }
    }
    for (name, users) in &by_service {
        let ids: Vec<String> = users.iter().map(|n| format!("`{}`", n.id)).collect();
        let Some(svc) = serving(machine, name, users[0].model.as_deref()) else {
            let names = machine.configured.join(", ");
            problems.push(at(users[0], format!("step {} uses service `{name}`, which the configuration does not define", ids.join(", "))).hint(
                format!("add `services.{name}` with a `host` (and `api: openai` for an OpenAI-compatible server) to localforge.yaml; configured: {names}"),
            ));
            continue;
        };
        if !svc.running {
            let why = svc.error.clone().unwrap_or_else(|| "not reachable".into());
            problems.push(
                {
                    // A step's own host is in the name already (`ollama at http://...`).
                    let place = if name.contains(" at ") { String::new() } else { format!(" at {}", svc.url) };
                    at(users[0], format!("{} {} `{name}`{place}, which is not running ({why})", plural(&ids), verb(&ids)))
                }
                .maybe_hint(svc.hint.clone()),
            );
            continue;
        }
        for n in users {
            let Some(model) = &n.model else { continue };
            let svc = serving(machine, name, Some(model)).unwrap_or(svc);
            if svc.models.is_empty() || svc.models.iter().any(|m| same_model(m, model)) {
                continue;
            }
            let hint = match svc.kind {
                ServiceKind::Ollama => format!("run `ollama pull {model}`; installed: {}", svc.models.join(", ")),
                _ => format!("the server offers: {}", svc.models.join(", ")),
            };
            problems.push(at(n, format!("step `{}` uses model `{model}`, which `{name}` at {} does not have", n.id, svc.url)).hint(hint));
        }
    }
    // Memory.
    if let Some(hw) = &machine.hardware {
        let budget = Budget::of(hw);
        for n in &needs {
            if let Some(ram) = n.ram_gb.filter(|r| *r > hw.ram_gb) {
                problems.push(
                    at(
                        n,
                        format!("step `{}` declares {ram:.1} GB of RAM (`resources.ram_gb`); this machine has {:.1} GB", n.id, hw.ram_gb),
                    )
                    .hint(
                        "lower the step's `resources.ram_gb`, or run it on a machine with more memory; or run with --force to try anyway",
                    ),
                );
            }
            if n.declared_gpu && !budget.gpu {
                problems.push(at(n, format!("step `{}` declares a GPU in its `resources`, and this machine has none", n.id)).hint(
                    "drop `gpu`/`vram_gb` from its `resources` to run it on the CPU, or set `resources.vram_gb` in the configuration \
                     if LocalForge cannot see your GPU; or run with --force to try anyway",
                ));
                continue;
            }
            let pinned = n.card.as_ref().map(|want| hw.gpus.iter().find(|g| names(g, want)));
            if let (Some(None), true) = (&pinned, budget.gpu) {
                let have: Vec<String> = hw
                    .gpus
                    .iter()
                    .map(|g| format!("{} ({}{})", g.index, g.name, g.uuid.as_ref().map_or(String::new(), |u| format!(", {u}"))))
                    .collect();
                problems.push(
                    at(
                        n,
                        format!(
                            "step `{}` asks for GPU `{}` (`resources.gpu`), which this machine does not have",
                            n.id,
                            n.card.as_deref().unwrap_or_default()
                        ),
                    )
                    .hint(format!("name one of its cards by index or UUID: {}; or run with --force to run it on any", have.join(", "))),
                );
                continue;
            }
            let Some(gb) = n.vram_gb else { continue };
            let svc = n.service.as_ref().and_then(|s| serving(machine, s, n.model.as_deref()));
            if svc.is_some_and(|s| !is_local(&s.url)) {
                notes.push(format!(
                    "step `{}`: {} runs on another machine ({}); its memory is not checked here",
                    n.id,
                    n.tool,
                    svc.map(|s| s.url.as_str()).unwrap_or("")
                ));
                continue;
            }
            // Models Ollama has loaded are unloaded to make room; one already loaded needs nothing new.
            let loaded = svc.map(|s| s.loaded.clone()).unwrap_or_default();
            if n.model.as_ref().is_some_and(|m| loaded.iter().any(|l| same_model(&l.name, m))) {
                continue;
            }
            let reclaimable: f64 = loaded.iter().map(|l| l.vram_gb).fold(0.0, |a, b| a + b); // not sum(): an empty f64 sum is -0.0
            if budget.gpu {
                let several = hw.gpus.len() > 1;
                let together = hw.gpus.iter().map(|g| g.vram_free_gb).fold(0.0, |a, b| a + b) + reclaimable;
                let (room, place) = match pinned.flatten() {
                    Some(g) => (g.vram_free_gb + reclaimable, format!("GPU {} ({}) has", g.index, g.name)),
                    None if n.split && several => (together, format!("the {} GPUs have", hw.gpus.len())),
                    None if several => (budget.gb + reclaimable, format!("the roomiest of the {} GPUs has", hw.gpus.len())),
                    None => (budget.gb + reclaimable, "this GPU has".to_string()),
                };
                if gb > room {
                    let split = match several && !n.split && pinned.is_none() && gb <= together {
                        true => format!("; or add `split: true` to its `resources` if its program can spread over several cards (llama.cpp's tensor split; {together:.1} GB together)"),
                        false => String::new(),
                    };
                    problems.push(
                        at(n, format!("step `{}`: {} needs ~{gb:.1} GB of VRAM{}; {place} {room:.1} GB free", n.id, what(n), basis(n)))
                            .hint(
                                alternative(n, profiles, settings, Budget { gb: room, ..budget })
                                    + &split
                                    + "; or run with --force to try anyway (it would spill into system RAM and run slowly, or fail)",
                            ),
                    );
                }
            } else if (n.model.is_some() || n.gpu) && gb > hw.ram_available_gb {
                // On the CPU a step's memory comes out of RAM: more than there is cannot work.
                let fix = match n.model {
                    Some(_) => alternative(n, profiles, settings, budget),
                    None => "run it on a machine with a GPU".into(),
                };
                problems.push(
                    at(
                        n,
                        format!(
                            "step `{}`: {} needs ~{gb:.1} GB{}; there is no GPU and {:.1} GB of RAM is available",
                            n.id,
                            what(n),
                            basis(n),
                            hw.ram_available_gb
                        ),
                    )
                    .hint(fix + "; or run with --force to try anyway"),
                );
            } else if n.gpu && n.model.is_none() {
                notes.push(format!(
                    "step `{}`: {} needs ~{gb:.1} GB of VRAM and no GPU was found; on the CPU it will be slow",
                    n.id,
                    what(n)
                ));
            }
        }
    }
    Preflight { needs, problems, notes, machine: machine.clone() }
}

/// The service a step talks to: by its name, or for a service of several instances
/// (`ollama#0`, `ollama#1`) a running one that has `model`, else a running one, else the first.
fn serving<'a>(machine: &'a Machine, name: &str, model: Option<&str>) -> Option<&'a Service> {
    if let Some(s) = machine.services.get(name) {
        return Some(s);
    }
    let of: Vec<&Service> =
        machine.services.iter().filter(|(n, _)| n.split_once('#').is_some_and(|(s, _)| s == name)).map(|(_, s)| s).collect();
    let has = |s: &&Service| model.is_some_and(|m| s.models.iter().any(|x| same_model(x, m)));
    of.iter().find(|s| s.running && has(s)).or_else(|| of.iter().find(|s| s.running)).or_else(|| of.first()).copied()
}

/// Whether `want` (`resources.gpu`: an index or a UUID) names GPU `g`.
fn names(g: &super::hardware::Gpu, want: &str) -> bool {
    let want = want.trim();
    want == g.index.to_string() || g.uuid.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(want))
}

fn plural(ids: &[String]) -> String {
    format!("{} {}", if ids.len() == 1 { "step" } else { "steps" }, ids.join(", "))
}
fn verb(ids: &[String]) -> &'static str {
    if ids.len() == 1 {
        "needs"
    } else {
        "need"
    }
}
fn what(n: &StepNeed) -> String {
    n.model.as_ref().map_or_else(|| format!("`{}`", n.tool), |m| format!("`{m}`"))
}
fn basis(n: &StepNeed) -> String {
    n.basis.as_ref().map_or_else(String::new, |b| format!(" ({b})"))
}

/// A model that would fit, or what else to change.
fn alternative(n: &StepNeed, profiles: &Profiles, settings: &LlmSettings, budget: Budget) -> String {
    let Some(model) = &n.model else {
        return match n.basis.as_deref() {
            Some(b) if b.starts_with("declared") => "lower the step's `resources.vram_gb`, or run it on a machine with more VRAM".into(),
            _ => "generate smaller images, or use a lighter model".into(),
        };
    };
    let task = profiles.llm(model).and_then(|(p, _)| p.tasks.first().cloned()).unwrap_or_else(|| "general".into());
    let s = LlmSettings { context: n.llm_context.or(settings.context), ..settings.clone() };
    match best_llm(profiles, &task, budget, &s) {
        Some((e, true)) => format!("`{}` fits (~{:.1} GB): set the step's `model: {}`", e.model, e.total_gb, e.model),
        _ => format!("no {task} model in the profiles fits {:.1} GB", budget.gb),
    }
}

/// The user's model profiles file (`~/.localforge/model_profiles.yaml`).
pub fn user_profiles() -> std::path::PathBuf {
    crate::config::home().join(".localforge").join("model_profiles.yaml")
}

/// Preflight for a bound recipe: find its needs, probe only the services they name
/// (and the hardware only when a step holds memory or declares a GPU), and check.
pub async fn run(
    config: &crate::config::Config,
    recipe: &Recipe,
    inputs: &Map<String, Value>,
    tools: &Registry,
    probe: &super::Probe,
) -> Preflight {
    let file = recipe.file.clone();
    let profiles = match Profiles::load(config.data_dir().as_deref(), Some(&user_profiles())) {
        Ok(p) => p,
        Err(e) => {
            let d = Diagnostic::new(format!("model profiles: {e}")).hint("fix the file, or move it away to use the shipped profiles");
            return Preflight { problems: vec![d], ..Preflight::default() };
        }
    };
    let settings = probe.settings();
    let needs = step_needs(recipe, inputs, tools, &profiles, &settings);
    let all = super::services::configured(config);
    let (list, configured) = probe_targets(&needs, all);
    // Every declared need is checked: RAM alone and a GPU alone as much as VRAM.
    let memory = probe.steps_here && needs.iter().any(StepNeed::holds_memory);
    let (hardware, services) = tokio::join!(
        async {
            match memory {
                true => Some(probe.hardware(config).await),
                false => None,
            }
        },
        super::services::probe_list(list, probe.deadline),
    );
    // Ollama's own default context (by version and VRAM) sizes the KV cache when nothing sets it.
    let settings = match super::ollama_version(&services) {
        Some(v) => settings.with_ollama_default(Some(v), hardware.as_ref().map_or(0.0, |h| h.vram_gb)),
        None => settings,
    };
    let needs = step_needs(recipe, inputs, tools, &profiles, &settings).into_iter().map(own_host).collect();
    check(needs, &Machine { hardware, services, configured }, &profiles, &settings, &file)
}

/// A step that names its own `host` talks to that server, not the configured one: it is
/// checked as a service of its own, `NAME at HOST`.
fn own_host(mut n: StepNeed) -> StepNeed {
    if let (Some(s), Some(h)) = (&n.service, &n.host) {
        n.service = Some(format!("{s} at {}", h.trim_end_matches('/')));
    }
    n
}

/// The services to probe for `needs` (the configured ones they use, and each step's own
/// host as a service of the configured one's kind), and the names configured.
fn probe_targets(needs: &[StepNeed], all: Vec<(String, ServiceKind, String)>) -> (Vec<(String, ServiceKind, String)>, Vec<String>) {
    let configured: Vec<String> = all.iter().map(|(name, _, _)| name.clone()).collect();
    let mut list: Vec<(String, ServiceKind, String)> = Vec::new();
    for n in needs {
        let Some(service) = &n.service else { continue };
        let base = all.iter().find(|(name, _, _)| name == service);
        let entry = match &n.host {
            Some(h) => {
                let kind = base.map(|b| b.1).unwrap_or(match service.as_str() {
                    "sd" => ServiceKind::Sd,
                    "comfyui" => ServiceKind::Comfyui,
                    _ => ServiceKind::Ollama,
                });
                Some((own_host(n.clone()).service.unwrap_or_default(), kind, h.trim_end_matches('/').to_string()))
            }
            // Every instance of a service that has several (`ollama#0`, `ollama#1`).
            None => {
                for e in all.iter().filter(|(name, _, _)| crate::config::instances::service_of(name) == service && name != service) {
                    if !list.iter().any(|l| l.0 == e.0) {
                        list.push(e.clone());
                    }
                }
                base.cloned()
            }
        };
        if let Some(e) = entry.filter(|e| !list.iter().any(|l| l.0 == e.0)) {
            list.push(e);
        }
    }
    let mut names = configured;
    names.extend(list.iter().map(|l| l.0.clone()).filter(|n| n.contains(" at ")));
    (list, names)
}
