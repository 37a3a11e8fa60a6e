//! The run: set up the run folder and history row, run steps in plan order,
//! then outputs, cleanup and the final history row.

use super::progress::Progress;
use super::report::{RunReport, RunStatus, StepReport, StepStatus};
use crate::plan::Plan;
use crate::recipe::Recipe;
use crate::store::{now, NewRun, Store};
use crate::template::{render_value, to_value, RunParts, RunScope, Scope, StepTable};
use crate::tools::Registry;
use indexmap::IndexMap;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub struct RunOptions {
    /// Folder that holds run folders (`<run_root>/<run_id>/`).
    pub run_root: PathBuf,
    pub store: Option<Arc<Store>>,
    pub auto_approve: bool,
    pub progress: Progress,
    /// Cancelled on Ctrl-C / SIGTERM: running steps are stopped, the run is `cancelled`.
    pub cancel: CancellationToken,
}

/// State every step of one run shares.
pub(super) struct Run {
    pub recipe: Arc<Recipe>,
    pub tools: Arc<Registry>,
    pub store: Option<Arc<Store>>,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub temp_dir: PathBuf,
    pub scope: Scope,
    pub steps: Arc<StepTable>,
    /// Stops steps: the caller's cancel, or the recipe's `timeout_minutes`.
    pub cancel: CancellationToken,
    pub user_cancel: CancellationToken,
    pub progress: Progress,
    pub auto_approve: bool,
    pub warnings: Mutex<Vec<String>>,
    /// What plugins see of the run (`ctx.inputs`, `ctx.recipe`, ...), built once.
    pub info: Arc<Value>,
}

impl Run {
    pub fn warn(&self, step: Option<&str>, message: String) {
        self.progress.note(&format!("warning: {message}"));
        if let Some(s) = &self.store {
            s.event(&self.run_id, step, "WARNING", &message);
        }
        self.warnings.lock().expect("warnings").push(message);
    }
}

fn new_run_id() -> String {
    let mut rand = [0u8; 3];
    let _ = getrandom::fill(&mut rand);
    format!("{}-{:02x}{:02x}{:02x}", chrono::Local::now().format("%Y%m%d-%H%M%S"), rand[0], rand[1], rand[2])
}

/// Run a validated recipe with bound inputs. `Err` only when the run cannot start
/// (run folder or history row cannot be created).
pub async fn run(
    recipe: Arc<Recipe>,
    plan: Plan,
    inputs: Map<String, Value>,
    tools: Arc<Registry>,
    opts: RunOptions,
) -> Result<RunReport, String> {
    let run_id = new_run_id();
    let run_dir = opts.run_root.join(&run_id);
    let temp_dir = run_dir.join("temp");
    std::fs::create_dir_all(&temp_dir).map_err(|e| format!("cannot create run folder `{}`: {e}", temp_dir.display()))?;
    let started_at = now();
    if let Some(store) = &opts.store {
        store
            .begin_run(NewRun {
                run_id: run_id.clone(),
                recipe: recipe.name.clone(),
                recipe_path: recipe.path.display().to_string(),
                recipe_hash: recipe.hash.clone(),
                inputs: Value::Object(inputs.clone()).to_string(),
                run_dir: run_dir.display().to_string(),
                started_at: started_at.clone(),
            })
            .map_err(|e| e.to_string())?;
    }
    let steps = Arc::new(StepTable::default());
    let info = Arc::new(json!({
        "run_id": run_id, "run_dir": run_dir, "temp_dir": temp_dir, "inputs": inputs, "config": recipe.config,
        "recipe": {"name": recipe.name, "version": recipe.version, "description": recipe.description, "path": recipe.path,
                   "config": recipe.config, "templates": recipe.templates},
    }));
    let parts = RunParts {
        inputs: to_value(&Value::Object(inputs)),
        config: to_value(&Value::Object(recipe.config.clone())),
        templates: recipe.templates.clone(),
        workflow: to_value(&json!({"run_id": run_id, "run_dir": run_dir, "name": recipe.name})),
        temp_dir: to_value(&json!(temp_dir)),
    };
    let scope = Scope::new(RunScope::new(parts, steps.clone()));
    let cancel = opts.cancel.child_token();
    let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(minutes) = recipe.timeout_minutes.filter(|m| *m > 0.0) {
        let (c, flag) = (cancel.clone(), timed_out.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs_f64(minutes * 60.0)) => {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    c.cancel();
                }
                _ = c.cancelled() => {}
            }
        });
    }
    opts.progress.run_started(&recipe.name, &run_id);
    let run = Arc::new(Run {
        recipe: recipe.clone(),
        tools,
        store: opts.store.clone(),
        run_id: run_id.clone(),
        run_dir: run_dir.clone(),
        temp_dir,
        scope,
        steps,
        cancel: cancel.clone(),
        user_cancel: opts.cancel.clone(),
        progress: opts.progress,
        auto_approve: opts.auto_approve,
        warnings: Mutex::new(Vec::new()),
        info,
    });
    let clock = Instant::now();
    let mut reports: IndexMap<String, StepReport> =
        recipe.steps.iter().filter(|s| !s.is_refinement()).map(|s| (s.id.clone(), StepReport::not_run())).collect();
    let mut failure: Option<String> = None;
    for &i in &plan.order {
        if cancel.is_cancelled() || failure.is_some() {
            break;
        }
        let step = &recipe.steps[i];
        let outcome = run.run_step(step, &run.scope, &step.id).await;
        run.steps.set(&step.id, outcome.status.as_str(), &Value::Object(outcome.outputs.clone()));
        if outcome.status == StepStatus::Failed {
            failure = Some(format!("step `{}` failed: {}", step.id, outcome.error.clone().unwrap_or_default()));
        }
        reports.insert(step.id.clone(), outcome);
    }
    let timed_out = timed_out.load(std::sync::atomic::Ordering::SeqCst);
    let ran_ok = !run.user_cancel.is_cancelled() && failure.is_none() && !timed_out;
    let (outputs, output_error) = run.render_outputs(ran_ok);
    failure = failure.or(output_error);
    let status = if run.user_cancel.is_cancelled() {
        RunStatus::Cancelled
    } else if failure.is_some() || timed_out {
        RunStatus::Failed
    } else {
        RunStatus::Completed
    };
    let error = match status {
        RunStatus::Cancelled => Some("run cancelled (interrupted)".to_string()),
        RunStatus::Failed if timed_out => {
            Some(format!("run exceeded `config.timeout_minutes` ({} min)", recipe.timeout_minutes.unwrap_or(0.0)))
        }
        _ => failure,
    };
    run.cleanup(status == RunStatus::Completed);
    cancel.cancel(); // stop the timeout timer
    let ended_at = now();
    if let Some(store) = &run.store {
        store.finish_run(&run_id, status.as_str(), Some(Value::Object(outputs.clone()).to_string()), error.clone());
        if let Err(e) = store.flush() {
            run.warnings.lock().expect("warnings").push(format!("history not fully written: {e}"));
        }
    }
    match status {
        RunStatus::Completed => run.progress.note(&format!("run {run_id} completed in {:.2}s", clock.elapsed().as_secs_f64())),
        _ => run.progress.note(&format!("run {run_id} {}: {}", status.as_str(), error.as_deref().unwrap_or(""))),
    }
    let warnings = std::mem::take(&mut *run.warnings.lock().expect("warnings"));
    Ok(RunReport {
        run_id,
        recipe: recipe.name.clone(),
        status,
        outputs,
        steps: reports,
        run_dir: run_dir.display().to_string(),
        error,
        started_at,
        ended_at,
        duration_s: clock.elapsed().as_secs_f64(),
        warnings,
    })
}

impl Run {
    /// The recipe's `outputs:` mapping, rendered. After a successful run an
    /// output that cannot be rendered fails the run; after a failure, the
    /// entries that can still be rendered are given and the rest left out.
    fn render_outputs(&self, ran_ok: bool) -> (Map<String, Value>, Option<String>) {
        let mut out = Map::new();
        let mut error = None;
        for (name, template) in self.recipe.outputs.iter().flatten() {
            match render_value(template, &self.scope) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(e) if ran_ok && error.is_none() => error = Some(format!("recipe output `{name}`: {e}")),
                Err(_) => {}
            }
        }
        (out, error)
    }
}
