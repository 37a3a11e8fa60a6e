//! The run flow every front door shares (the CLI and the Python API, and through it
//! MCP, the dashboard and Ray): load and check a recipe, the preflight policy, starting a run,
//! the checks before a resume, and the dry-run plan document. Front ends only
//! convert values and errors; what a user can observe is decided here.

use super::{store_error, EngineError, Prepared, RunFailure};
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::exec::{self, RunOptions, RunReport};
use crate::recipe::Recipe;
use crate::status::RunStatus;
use crate::store::{RunDetail, Store};
use crate::system::preflight::{Preflight, StepNeed};
use crate::tools::Registry;
use indexmap::IndexMap;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Read and parse a recipe (the tools it names are known after this, so a front end
/// can find plugins for just those), with the problems parsing found.
pub fn load(path: &Path) -> Result<(Recipe, Vec<Diagnostic>), EngineError> {
    crate::recipe::load(path).map_err(EngineError::Recipe)
}

/// Check a loaded recipe against the tools, bind the inputs and plan the run.
/// Input problems (no line) are `Input`; recipe problems are `Recipe`.
pub fn ready(recipe: Recipe, diags: Vec<Diagnostic>, given: &IndexMap<String, Value>, tools: &Registry) -> Result<Prepared, EngineError> {
    let recipe = super::validated(recipe, diags, tools).map_err(EngineError::Recipe)?;
    super::bind(recipe, given).map_err(|diags| match diags.iter().all(|d| d.line.is_none()) {
        true => EngineError::Input(diags),
        false => EngineError::Recipe(diags),
    })
}

/// What the recipe needs against the machine. Notes are told to `listeners` (events);
/// unmet needs refuse the run (`Resources`, nothing runs) unless `force`. `remote`: an
/// executor runs the steps elsewhere, so this machine's memory is not checked (the
/// executor places each step on a node with room).
pub async fn preflight(
    config: &Config,
    p: &Prepared,
    tools: &Registry,
    force: bool,
    listeners: &[exec::Listener],
    remote: bool,
) -> Result<Preflight, EngineError> {
    let probe = crate::system::Probe { steps_here: !remote, ..crate::system::Probe::machine() };
    let pf = crate::system::preflight::run(config, &p.recipe, &p.inputs, tools, &probe).await;
    exec::preflight_notes(listeners, &pf.notes);
    if !pf.problems.is_empty() && !force {
        let mut diags = pf.problems.clone();
        if let Some(last) = diags.last_mut() {
            if last.hint.as_deref().is_none_or(|h| !h.contains("--force")) {
                let before = last.hint.as_deref().map(|h| format!("{h}; ")).unwrap_or_default();
                last.hint = Some(format!("{before}run with --force to start anyway"));
            }
        }
        return Err(EngineError::Resources(diags));
    }
    Ok(pf)
}

/// How a run is started: the caller's options, and what the front end adds.
#[derive(Clone, Default)]
pub struct Start {
    pub options: super::Options,
    /// Continue this earlier run instead of starting a new one.
    pub resume: Option<exec::Resume>,
    /// The new run's id, when the caller needs it before the run starts (`exec::new_run_id`).
    pub run_id: Option<String>,
    /// Who hears the run's events (the terminal's progress lines, an event stream, ...).
    pub listeners: Vec<exec::Listener>,
    /// Approval gates answered by the caller (`Answers::answer`), not on a terminal.
    pub answers: Option<exec::Answers>,
    /// What the steps run on when an executor runs them elsewhere (a Ray cluster's
    /// CPUs and VRAM): the ledger plans with it instead of this machine's.
    pub capacity: Option<crate::schedule::Capacity>,
}

/// The run's history (`None` when the configuration keeps none), opened where the run is
/// started: the caller's thread waits for the run anyway, and opening it there spares the
/// run a blocking thread made for it and two hand-overs between threads.
pub fn open_history(config: &Config) -> Result<Option<Arc<Store>>, EngineError> {
    match config.persistence_enabled() {
        true => Ok(Some(Arc::new(Store::open(&config.db_path())?))),
        false => Ok(None),
    }
}

/// Run a prepared recipe to its end (or until `cancel`): history row (in `store`, from
/// `open_history`), run folder, report.
pub async fn execute(
    config: &Config,
    p: Prepared,
    tools: Arc<Registry>,
    pf: &Preflight,
    (start, store): (Start, Option<Arc<Store>>),
    cancel: CancellationToken,
) -> Result<RunReport, EngineError> {
    let options = start.options;
    if let Some(unknown) = options.refresh.iter().find(|r| !p.recipe.steps.iter().any(|s| &s.id == *r)) {
        let ids: Vec<&str> = p.recipe.steps.iter().map(|s| s.id.as_str()).collect();
        return Err(EngineError::Input(vec![Diagnostic::new(format!("--refresh names step `{unknown}`, which the recipe does not have"))
            .hint(crate::diag::did_you_mean(unknown, ids.iter().copied()).unwrap_or_else(|| format!("steps: {}", ids.join(", "))))]));
    }
    let cache = crate::cache::Cache::from_config(config, options.no_cache, options.refresh);
    let mut resources = pf.resources(config);
    if let Some(capacity) = start.capacity {
        resources.capacity = capacity;
    }
    let run_id = start.resume.as_ref().map(|r| r.run_id.clone()).or(start.run_id).unwrap_or_else(exec::new_run_id);
    // With a history, the run also does what other processes ask of it (`control`).
    let watching = CancellationToken::new();
    if store.is_some() {
        let watch = super::control::watch(config.db_path(), run_id.clone(), cancel.clone(), start.answers.clone(), watching.clone());
        tokio::spawn(watch);
    }
    let _stop_watching = watching.drop_guard();
    let opts = RunOptions {
        cache,
        run_root: config.run_dir(),
        store,
        auto_approve: options.auto_approve,
        cancel,
        resources,
        resume: start.resume,
        run_id: Some(run_id),
        listeners: start.listeners,
        answers: start.answers,
    };
    exec::run(p.recipe, p.plan, p.inputs, tools, opts).await.map_err(|e| match e {
        exec::StartError::Store(s) => EngineError::Store(s),
        exec::StartError::Folder { path, message } => EngineError::Run(RunFailure::Folder { path, message }),
    })
}

/// An earlier run that can be resumed: its history, its recipe file and its inputs.
pub struct ResumeTarget {
    pub detail: RunDetail,
    pub recipe: PathBuf,
    pub inputs: IndexMap<String, Value>,
}

/// Find run `run_id` in the history and check it can be resumed: it exists, did
/// not complete, is not running, and its recipe file is still there.
pub fn resume_target(config: &Config, run_id: &str) -> Result<ResumeTarget, EngineError> {
    let refuse = |msg: String, hint: &str| EngineError::Refused(Diagnostic::new(msg).hint(hint));
    let db = config.db_path();
    let detail = crate::store::run_detail(&db, run_id).map_err(|e| EngineError::Store(store_error(&db, e)))?;
    let Some(detail) = detail else {
        return Err(refuse(format!("no run `{run_id}` in the history ({})", db.display()), "list runs with `localforge history`"));
    };
    match RunStatus::parse(&detail.summary.status) {
        Some(RunStatus::Completed) => {
            return Err(refuse(format!("run `{run_id}` completed; there is nothing to resume"), "start a new run with `localforge run`"))
        }
        Some(RunStatus::Running) => {
            return Err(refuse(
                format!("run `{run_id}` is still running (its process is alive)"),
                "wait for it, or stop it with Ctrl-C / SIGTERM, then resume",
            ))
        }
        _ => {}
    }
    let recipe = PathBuf::from(detail.recipe_path.clone().unwrap_or_default());
    if !recipe.is_file() {
        return Err(refuse(format!("the recipe of run `{run_id}` is gone: `{}`", recipe.display()), "put the recipe back where it was"));
    }
    let inputs = detail.inputs.as_ref().and_then(Value::as_object).map(|m| m.clone().into_iter().collect()).unwrap_or_default();
    Ok(ResumeTarget { detail, recipe, inputs })
}

impl ResumeTarget {
    /// How the run continues: refused if the recipe changed since the run started, unless `force`.
    pub fn resume(&self, p: &Prepared, force: bool) -> Result<exec::Resume, EngineError> {
        if self.detail.recipe_hash.as_deref() != Some(p.recipe.hash.as_str()) && !force {
            return Err(EngineError::Refused(
                Diagnostic::new(format!(
                    "the recipe `{}` changed since run `{}` started",
                    self.recipe.display(),
                    self.detail.summary.run_id
                ))
                .hint("resume with --force to continue with the recipe as it is now, or start a new run"),
            ));
        }
        Ok(exec::Resume::from_history(&self.detail))
    }
}

/// `path` spelled by its real path as far as it exists (a runs folder a first run will make).
fn real_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut missing = Vec::new();
    let mut at = path;
    loop {
        if let Ok(real) = std::fs::canonicalize(at) {
            return missing.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                at = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// `run --dry-run`: the plan document, with which steps the step cache would serve
/// under `cache` (asking the services for model identities, as a run would).
pub async fn dry_run(config: &Config, p: &Prepared, tools: &Registry, pf: &Preflight, options: &super::Options) -> Value {
    let mut doc = plan_document(config, p, pf, options.force);
    let cache = crate::cache::Cache::from_config(config, options.no_cache, options.refresh.clone());
    // Where a run would put its folder, spelled as the run will (its real path).
    let run_dir = real_path(&config.run_dir()).join(crate::exec::new_run_id());
    let verdicts = super::preview::preview(&run_dir, cache.as_deref(), &p.recipe, &p.plan, &p.inputs, tools).await;
    super::preview::annotate(&mut doc, &verdicts);
    doc
}

/// The plan of a prepared recipe without running it (`run --dry-run`): levels, the
/// critical path by estimated time, capacity, each step's tool, reservation and needs.
pub fn plan_document(config: &Config, p: &Prepared, pf: &Preflight, force: bool) -> Value {
    let needs: std::collections::HashMap<&str, &StepNeed> = pf.needs.iter().map(|n| (n.id.as_str(), n)).collect();
    let resources = pf.resources(config);
    let ledger = crate::schedule::Ledger::new(resources.capacity.clone());
    let steps = &p.recipe.steps;
    // Estimated durations: this recipe's history where it has them, tool defaults otherwise.
    let past = match config.persistence_enabled() {
        true => crate::store::step_seconds(&config.db_path(), &p.recipe.name).unwrap_or_default(),
        false => Default::default(),
    };
    let seconds: Vec<f64> = steps.iter().map(|s| crate::schedule::estimated_seconds(s, past.get(&s.id).copied())).collect();
    let critical = crate::schedule::critical_path(&p.plan, &seconds);
    // A step that would use a GPU runs on the CPU on a machine found to have none.
    let gpu_here = pf.machine.hardware.as_ref().is_none_or(|h| !h.gpus.is_empty());
    let levels: Vec<Vec<&str>> = p.plan.levels().iter().map(|l| l.iter().map(|&i| steps[i].id.as_str()).collect()).collect();
    let detail: Vec<Value> = p
        .plan
        .order
        .iter()
        .map(|&i| {
            let s = &steps[i];
            let (tool, action) = s.tool_action().unwrap_or(("approval_gate", ""));
            json!({
                "id": s.id,
                "tool": tool,
                "action": action,
                "depends_on": p.plan.deps[i].iter().map(|&d| steps[d].id.as_str()).collect::<Vec<_>>(),
                "resources": s.resources.clone().or_else(|| p.recipe.resources.clone()),
                "needs": needs.get(s.id.as_str()),
                "on_gpu": gpu_here && needs.get(s.id.as_str()).is_some_and(|n| n.gpu),
                "never_fits": ledger.never_fits(&resources.of(&p.recipe, s)),
                // The cards it would go to on an idle machine (its pinned one, the best fit,
                // or the ones it splits over); while others run it may go elsewhere.
                "gpus": ledger.place(&resources.of(&p.recipe, s)).map_or_else(Vec::new, |pl| pl.cards(&resources.capacity)).iter().map(|c| c.index).collect::<Vec<_>>(),
                "estimated_s": seconds[i],
                "on_failure": s.on_failure,
                "when": s.when,
            })
        })
        .collect();
    json!({
        "recipe": p.recipe.name,
        "valid": true,
        "sequential": p.plan.sequential,
        "inputs": p.inputs,
        "levels": levels,
        "critical_path": critical.iter().map(|&i| steps[i].id.as_str()).collect::<Vec<_>>(),
        "critical_path_s": critical.iter().map(|&i| seconds[i]).sum::<f64>(),
        "capacity": capacity(&resources.capacity),
        "steps": detail,
        "preflight": {"ok": pf.problems.is_empty(), "forced": force && !pf.problems.is_empty(), "problems": pf.problems, "notes": pf.notes},
    })
}

/// What the run plans with, for the dry run: CPU slots, RAM, VRAM, and each card where
/// they are listed (`gpus`, left out on a machine without listed cards).
fn capacity(c: &crate::schedule::Capacity) -> Value {
    let mut doc = json!({"cpu": c.cpu, "ram_gb": c.ram_gb, "vram_gb": c.vram_gb});
    if !c.gpus.is_empty() {
        doc["gpus"] = json!(c.gpus);
    }
    doc
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_path_is_spelled_by_its_real_path_as_far_as_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        let real = std::fs::canonicalize(dir.path().join("real")).unwrap();
        assert_eq!(super::real_path(&dir.path().join("link/runs/r1")), real.join("runs/r1"), "made later: the rest as written");
        assert_eq!(super::real_path(&dir.path().join("link")), real);
    }
}
