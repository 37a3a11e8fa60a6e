//! The run: set up the run folder and history row, run steps in plan order,
//! then outputs, cleanup and the final history row.

use super::answers::Answers;
use super::events::{Emitter, Listener};
use super::report::{RunReport, RunStatus, StepReport, StepStatus};
use super::state::Run;
use crate::plan::Plan;
use crate::recipe::Recipe;
use crate::schedule::{priority, remaining_path, Ledger, Placement, Reservation, Resources};
use crate::store::{now, NewRun, Store};
use crate::template::{render_value, to_value, RunParts, RunScope, Scope, StepTable};
use crate::tools::Registry;
use futures_util::stream::{FuturesUnordered, StreamExt};
use indexmap::IndexMap;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub struct RunOptions {
    /// Folder that holds run folders (`<run_root>/<run_id>/`).
    pub run_root: PathBuf,
    pub store: Option<Arc<Store>>,
    pub auto_approve: bool,
    /// Cancelled on Ctrl-C / SIGTERM: running steps are stopped, the run is `cancelled`.
    pub cancel: CancellationToken,
    /// What steps hold and what the machine offers.
    pub resources: Resources,
    /// Continue an earlier run instead of starting one.
    pub resume: Option<Resume>,
    /// The new run's id (made up when `None`); a resumed run keeps its own.
    pub run_id: Option<String>,
    /// Who hears the run's events (the terminal's progress lines are one listener).
    pub listeners: Vec<Listener>,
    /// Approval gates are answered from outside (`Answers::answer`) instead of a terminal.
    pub answers: Option<Answers>,
    /// The step cache, unless it is off (`cache.enabled: false`, `run --no-cache`).
    pub cache: Option<Arc<crate::cache::Cache>>,
}

/// The steps named and every step that waits for them, directly or not.
pub fn refreshed(recipe: &Recipe, plan: &Plan, names: &[String]) -> std::collections::HashSet<String> {
    let dependents = plan.dependents();
    let mut todo: Vec<usize> = recipe.steps.iter().enumerate().filter(|(_, s)| names.contains(&s.id)).map(|(i, _)| i).collect();
    let mut out = std::collections::HashSet::new();
    while let Some(i) = todo.pop() {
        if out.insert(recipe.steps[i].id.clone()) {
            todo.extend(dependents.get(i).into_iter().flatten().copied());
        }
    }
    out
}

/// An earlier run to continue: its id and folder, the steps it completed (not run
/// again), and the attempts already recorded per step (new ones are numbered after).
#[derive(Debug, Clone, Default)]
pub struct Resume {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub done: HashMap<String, StepReport>,
    pub attempts: HashMap<String, u32>,
}

/// A new run's id: its start time and three random bytes (`20261202-053307-8f490f`).
pub fn new_run_id() -> String {
    let mut rand = [0u8; 3];
    let _ = getrandom::fill(&mut rand);
    format!("{}-{:02x}{:02x}{:02x}", chrono::Local::now().format("%Y%m%d-%H%M%S"), rand[0], rand[1], rand[2])
}

/// Why a run could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartError {
    #[error("cannot create run folder `{path}`: {message}")]
    Folder { path: String, message: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Run a validated recipe with bound inputs. `Err` only when the run cannot start
/// (run folder or history row cannot be created).
pub async fn run(
    recipe: Arc<Recipe>,
    plan: Plan,
    inputs: Map<String, Value>,
    tools: Arc<Registry>,
    opts: RunOptions,
) -> Result<RunReport, StartError> {
    let resume = opts.resume.clone().unwrap_or_default();
    let resuming = opts.resume.is_some();
    let run_id = if resuming { resume.run_id.clone() } else { opts.run_id.clone().unwrap_or_else(new_run_id) };
    let run_dir = if resuming { resume.run_dir.clone() } else { opts.run_root.join(&run_id) };
    let temp_dir = run_dir.join("temp");
    std::fs::create_dir_all(&temp_dir).map_err(|e| StartError::Folder { path: temp_dir.display().to_string(), message: e.to_string() })?;
    // One spelling of the run folder (no link on the way): a step's `pwd -P`, `realpath .` or
    // `os.getcwd()` writes what the template wrote, which the step cache finds and rewrites
    // for another run (`cache::relocate`). A resumed run keeps the folder it had.
    let (run_dir, temp_dir) = match std::fs::canonicalize(&run_dir) {
        Ok(real) if !resuming => (real.clone(), real.join("temp")),
        _ => (run_dir, temp_dir),
    };
    let started_at = now();
    if let (Some(store), true) = (&opts.store, resuming) {
        store.resume_run(&run_id)?;
    } else if let Some(store) = &opts.store {
        store.begin_run(NewRun {
            run_id: run_id.clone(),
            recipe: recipe.name.clone(),
            recipe_path: recipe.path.display().to_string(),
            recipe_hash: recipe.hash.clone(),
            inputs: super::json_text(&inputs),
            run_dir: run_dir.display().to_string(),
            started_at: started_at.clone(),
            steps: recipe.steps.len() as u32,
        })?;
    }
    let steps = Arc::new(StepTable::default());
    let info = Arc::new(json!({
        "run_id": run_id, "run_dir": run_dir, "temp_dir": temp_dir, "inputs": inputs, "config": recipe.config, "started_at": started_at,
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
    let events = Emitter::new(opts.listeners);
    events.run_started(&recipe, &plan, &run_id, &run_dir, resuming);
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
        events,
        auto_approve: opts.auto_approve,
        answers: opts.answers,
        warnings: Mutex::new(Vec::new()),
        info,
        attempt_base: resume.attempts.clone(),
        refinement: Mutex::new((HashMap::new(), 0)),
        kept_items: resume.done.iter().filter(|(id, _)| id.contains('[')).map(|(id, r)| (id.clone(), r.clone())).collect(),
        refreshed: opts.cache.as_ref().map(|c| refreshed(&recipe, &plan, &c.refresh)).unwrap_or_default(),
        cache: opts.cache.clone(),
        resources: opts.resources.clone(),
        // The plan's edges by id, which only the cache's keys read.
        upstream: match opts.cache {
            Some(_) => recipe
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), plan.deps[i].iter().map(|&d| recipe.steps[d].id.clone()).collect()))
                .collect(),
            None => HashMap::new(),
        },
        feeds: match opts.cache {
            Some(_) => plan.deps.iter().flatten().map(|&d| recipe.steps[d].id.clone()).collect(),
            None => HashSet::new(),
        },
        digests: Mutex::new(HashMap::new()),
        read_run: Default::default(),
        activity: Default::default(),
    });
    if let Some(store) = &run.store {
        let events = run.events.clone();
        store.on_note(Arc::new(move |m: &str| events.note(&format!("warning: {m}"))));
    }
    let clock = Instant::now();
    let mut reports: IndexMap<String, StepReport> =
        recipe.steps.iter().filter(|s| !s.is_refinement()).map(|s| (s.id.clone(), StepReport::not_run())).collect();
    let failure = schedule(&run, &plan, &opts.resources, resume.done, &mut reports).await;
    run.resolve_pending(); // every call has finished: each waiting entry is written or dropped
    if let Some(cache) = run.cache.clone().filter(|c| c.stored.swap(false, std::sync::atomic::Ordering::SeqCst)) {
        // Keep the store under `cache.max_gb`, once per run.
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || cache.store.evict()).await {
            run.events.note(&format!("warning: step cache eviction failed: {e}"));
        }
    }
    let timed_out = timed_out.load(std::sync::atomic::Ordering::SeqCst);
    let ran_ok = !run.user_cancel.is_cancelled() && failure.is_none() && !timed_out;
    let (outputs, output_error) = run.render_outputs(ran_ok);
    let failure = failure.or(output_error);
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
        store.finish_run(&run_id, status, Some(super::json_text(&outputs)), error.clone());
        if let Err(e) = store.flush() {
            run.warnings.lock().expect("warnings").push(format!("history not fully written: {e}"));
        }
        run.warnings.lock().expect("warnings").extend(store.take_notes());
    }
    run.events.run_finished(&run_id, status, clock.elapsed(), error.as_deref());
    let warnings = std::mem::take(&mut *run.warnings.lock().expect("warnings"));
    // What the run held (every step's outputs as templates see them, ...) is freed on a
    // blocking thread: on a long recipe freeing it is a tenth of the run, and the report
    // does not wait for it.
    drop(tokio::task::spawn_blocking(move || drop(run)));
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

type Started = std::pin::Pin<Box<dyn std::future::Future<Output = (usize, Reservation, Placement, StepReport)> + Send>>;

/// Run step `i` on the cards it was given, in this task (`inline`) or as a task of its
/// own. A panic (a bug) fails the step instead of the run.
fn start(run: Arc<Run>, i: usize, (r, placed): (Reservation, Placement), inline: bool) -> Started {
    use futures_util::FutureExt;
    let bug = |e: &(dyn std::any::Any + Send)| {
        let what = e.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| e.downcast_ref::<String>().cloned()).unwrap_or_default();
        StepReport {
            status: StepStatus::Failed,
            error: Some(format!("the step stopped unexpectedly ({what}); this is a bug in LocalForge or the tool")),
            ..StepReport::not_run()
        }
    };
    let given = super::placed::Given::of(&placed, &run.resources.capacity, r.clone());
    let work = super::placed::within(given, async move {
        let step = &run.recipe.steps[i];
        run.run_step(step, &run.scope, &step.id).await
    });
    if inline {
        Box::pin(async move {
            let report = std::panic::AssertUnwindSafe(work).catch_unwind().await.unwrap_or_else(|e| bug(&*e));
            (i, r, placed, report)
        })
    } else {
        let task = tokio::spawn(work);
        Box::pin(async move {
            let report = task.await.unwrap_or_else(|e| match e.try_into_panic() {
                Ok(p) => bug(&*p),
                Err(e) => bug(&e.to_string()),
            });
            (i, r, placed, report)
        })
    }
}

/// The dispatch loop: start every ready step that fits beside the running ones,
/// in priority order; on each finish release its resources and its dependents.
/// A failure (`abort`) or cancellation stops new dispatches; running steps finish
/// and are recorded. Returns the failure that ends the run, if any.
async fn schedule(
    run: &Arc<Run>,
    plan: &Plan,
    resources: &Resources,
    done: HashMap<String, StepReport>,
    reports: &mut IndexMap<String, StepReport>,
) -> Option<String> {
    let recipe = &run.recipe;
    let steps = &recipe.steps;
    let n = steps.len();
    let remaining = remaining_path(plan);
    let dependents = plan.dependents();
    let mut waiting: Vec<usize> = plan.deps.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = Vec::new();
    let mut finished = vec![false; n];
    let mut when_skipped: HashSet<&str> = HashSet::new();
    let release = |i: usize, waiting: &mut Vec<usize>, ready: &mut Vec<usize>, finished: &mut Vec<bool>| {
        finished[i] = true;
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(d);
            }
        }
    };
    // Steps a resumed run completed before: their outputs stand, they are not run again.
    let mut initial: Vec<usize> = plan.order.iter().copied().filter(|&i| waiting[i] == 0).collect();
    for &i in &plan.order {
        if let Some(prev) = done.get(&steps[i].id) {
            run.steps.set(&steps[i].id, prev.status, &prev.outputs);
            run.kept(&steps[i].id);
            run.events.step_kept(&steps[i].id, &prev.outputs);
            reports.insert(steps[i].id.clone(), prev.clone());
            release(i, &mut waiting, &mut initial, &mut finished);
        }
    }
    ready.extend(initial.into_iter().filter(|&i| !finished[i]));
    let mut ledger = Ledger::new(resources.capacity.clone());
    for (card, model) in &resources.warm {
        ledger.warm(*card, model);
    }
    let mut loaded = resources.loaded.clone();
    let mut running = FuturesUnordered::new();
    let mut failure: Option<String> = None;
    let mut stop = false;
    loop {
        stop |= run.cancel.is_cancelled();
        if !stop {
            let key = |i: usize, r: &Reservation| priority(r.model.as_deref(), &loaded, remaining[i], i);
            let mut order: Vec<(usize, Reservation)> = ready.drain(..).map(|i| (i, resources.of(recipe, &steps[i]))).collect();
            let mut started: Vec<(usize, (Reservation, Placement))> = Vec::new();
            order.sort_by_key(|b| std::cmp::Reverse(key(b.0, &b.1)));
            for (i, r) in order {
                let step = &steps[i];
                let skipped = match when_skipped.is_empty() {
                    true => None, // (reading the step's templates for the steps it names costs more than the rest of this)
                    false => crate::plan::referenced_steps(step).into_iter().find(|id| when_skipped.contains(id)),
                };
                if let Some(skipped) = skipped {
                    // `when` skipped a step whose outputs this one reads: skip it too.
                    run.events.step_skipped(&step.id, &format!("it reads the outputs of `{skipped}`, which was skipped"));
                    let now = now();
                    let report = StepReport {
                        status: StepStatus::Skipped,
                        outputs: Map::new(),
                        error: None,
                        attempts: 0,
                        started_at: Some(now.clone()),
                        ended_at: Some(now),
                    };
                    run.steps.set(&step.id, StepStatus::Skipped, &Map::new());
                    when_skipped.insert(step.id.as_str());
                    reports.insert(step.id.clone(), report);
                    release(i, &mut waiting, &mut ready, &mut finished);
                    continue;
                }
                let alone = ledger.is_idle() && running.is_empty();
                if !ledger.fits(&r) && !alone {
                    ready.push(i);
                    continue;
                }
                if let Some(why) = ledger.never_fits(&r) {
                    run.warn(Some(&step.id), format!("step `{}` {why}; running it alone", step.id));
                }
                let placed = ledger.take(&r);
                if let Some(m) = &r.model {
                    loaded.insert(m.clone());
                }
                started.push((i, (r, placed)));
            }
            // A step that runs alone runs in this task (no hand-over between threads: a
            // chain stays as fast as a loop); steps that run together are each their own
            // task, so blocking work in one native step does not hold up the others.
            let alone = started.len() == 1 && running.is_empty();
            for (i, r) in started.drain(..) {
                running.push(start(run.clone(), i, r, alone));
            }
        }
        let Some((i, r, placed, outcome)) = running.next().await else { break };
        ledger.give(&r, &placed);
        let step = &steps[i];
        run.steps.set(&step.id, outcome.status, &outcome.outputs);
        match outcome.status {
            StepStatus::Failed => {
                failure.get_or_insert_with(|| format!("step `{}` failed: {}", step.id, outcome.error.clone().unwrap_or_default()));
                stop = true;
            }
            StepStatus::Cancelled => stop = true,
            StepStatus::Skipped if outcome.error.is_none() => {
                when_skipped.insert(step.id.as_str());
            }
            _ => {}
        }
        reports.insert(step.id.clone(), outcome);
        release(i, &mut waiting, &mut ready, &mut finished);
    }
    failure
}

impl Resume {
    /// What a recorded run left: the steps whose last attempt completed, and the
    /// attempt count of every record id. A step without a row did not run.
    pub fn from_history(detail: &crate::store::RunDetail) -> Resume {
        let mut done = HashMap::new();
        let mut attempts: HashMap<String, u32> = HashMap::new();
        let mut last: HashMap<&str, &crate::store::StepRow> = HashMap::new();
        for row in &detail.steps {
            let a = attempts.entry(row.step_id.clone()).or_insert(0);
            *a = (*a).max(row.attempt);
            if last.get(row.step_id.as_str()).is_none_or(|prev| prev.attempt <= row.attempt) {
                last.insert(&row.step_id, row);
            }
        }
        for (id, row) in last {
            if StepStatus::parse(&row.status).is_some_and(StepStatus::succeeded) {
                let outputs = row.outputs.as_ref().and_then(Value::as_object).cloned().unwrap_or_default();
                done.insert(
                    id.to_string(),
                    StepReport {
                        status: StepStatus::Completed,
                        outputs,
                        error: None,
                        attempts: row.attempt,
                        started_at: Some(row.started_at.clone()),
                        ended_at: row.ended_at.clone(),
                    },
                );
            }
        }
        Resume { run_id: detail.summary.run_id.clone(), run_dir: detail.run_dir.clone().unwrap_or_default().into(), done, attempts }
    }
}
