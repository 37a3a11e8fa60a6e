//! Run events: what happens in a run, in order, for whoever listens — the
//! terminal front end (`crate::terminal`), the Python API's event stream, and
//! later the MCP server and the dashboard. History is written separately.

use crate::plan::Plan;
use crate::recipe::Recipe;
use crate::status::{RunStatus, StepStatus};
use crate::tools::JsonMap;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// One thing that happened in a run. Serialized with a `type` tag (`step_started`, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Something the preflight check found that does not stop the run (before the run starts).
    PreflightNote { message: String },
    /// The run folder and history row exist; `plan` holds the steps by level.
    RunStarted { run_id: String, recipe: String, run_dir: String, resumed: bool, plan: Vec<Vec<String>> },
    /// An attempt of a step (or a `batch.foreach` item's sub-step) begins, on the machine's
    /// GPUs `gpus` (by number; empty when none).
    StepStarted { step: String, attempt: u32, tool: String, action: String, gpus: Vec<usize> },
    /// What a tool knows of its progress: batch items done of total, LLM tokens so far, ...
    StepProgress { step: String, done: Option<u64>, total: Option<u64>, unit: String },
    /// A log line of a step: a tool's own messages, a plugin's `print()`.
    StepLog { step: String, level: String, message: String },
    /// An attempt ended: `completed`, `failed` or `cancelled`; also `kept` (a resumed run's
    /// step that completed before) and `skipped` (with why, in `error`).
    StepFinished { step: String, status: StepStatus, attempt: u32, elapsed_s: f64, outputs: Map<String, Value>, error: Option<String> },
    /// An approval gate waits for an answer (`Run.approve`, or a person at the terminal).
    ApprovalRequested { step: String, message: String, options: Vec<String>, default: String },
    /// Something the engine says about the run (a warning, a refinement round, a kept file).
    Note { message: String },
    /// The run ended; the report follows.
    RunFinished { run_id: String, status: RunStatus, duration_s: f64, error: Option<String> },
}

/// Receives every event of a run, on the engine's threads: it must not block.
/// (An `Arc`, so a listener that keeps events keeps them without copying.)
pub type Listener = Arc<dyn Fn(&Arc<Event>) + Send + Sync>;

/// Sends a run's events to its listeners.
#[derive(Clone)]
pub struct Emitter {
    listeners: Arc<[Listener]>,
}

/// Text longer than this is cut in an event's outputs (the history keeps it whole).
const SUMMARY_CHARS: usize = 400;

fn summary(outputs: &JsonMap) -> Map<String, Value> {
    outputs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) if s.chars().count() > SUMMARY_CHARS => {
                    Value::String(format!("{}… ({} characters)", s.chars().take(SUMMARY_CHARS).collect::<String>(), s.chars().count()))
                }
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

impl Emitter {
    pub fn new(listeners: Vec<Listener>) -> Emitter {
        Emitter { listeners: listeners.into() }
    }

    /// Make the event and hand it to every listener; with none, it is not even made.
    fn emit(&self, make: impl FnOnce() -> Event) {
        if self.watched() {
            let event = Arc::new(make());
            for l in self.listeners.iter() {
                l(&event);
            }
        }
    }

    /// Whether anyone listens (events, and outputs' summaries, are made only then).
    fn watched(&self) -> bool {
        !self.listeners.is_empty()
    }

    pub fn run_started(&self, recipe: &Recipe, plan: &Plan, run_id: &str, run_dir: &std::path::Path, resumed: bool) {
        let levels = match self.watched() {
            true => plan.levels().iter().map(|l| l.iter().map(|&i| recipe.steps[i].id.clone()).collect()).collect(),
            false => Vec::new(),
        };
        self.emit(|| Event::RunStarted {
            run_id: run_id.into(),
            recipe: recipe.name.clone(),
            run_dir: run_dir.display().to_string(),
            resumed,
            plan: levels,
        });
    }

    pub fn step_started(&self, step: &str, attempt: u32, tool: &str, action: &str, gpus: Vec<usize>) {
        self.emit(|| Event::StepStarted { step: step.into(), attempt, tool: tool.into(), action: action.into(), gpus });
    }

    pub fn step_finished(&self, step: &str, attempt: u32, took: Duration, result: Result<&JsonMap, (&str, bool)>) {
        let (status, outputs, error) = match result {
            Ok(o) => (StepStatus::Completed, if self.watched() { summary(o) } else { Map::new() }, None),
            Err((_, true)) => (StepStatus::Cancelled, Map::new(), Some("cancelled".to_string())),
            Err((message, false)) => (StepStatus::Failed, Map::new(), Some(message.to_string())),
        };
        self.emit(|| Event::StepFinished { step: step.into(), status, attempt, elapsed_s: took.as_secs_f64(), outputs, error });
    }

    /// An attempt served by the step cache (outputs and files from run `from`).
    pub fn step_cached(&self, step: &str, attempt: u32, took: Duration, outputs: &JsonMap, from: &str) {
        let outputs = if self.watched() { summary(outputs) } else { Map::new() };
        let _ = from; // in the history (`cached_from`); the event says only that it was cached
        self.emit(|| Event::StepFinished {
            step: step.into(),
            status: StepStatus::Cached,
            attempt,
            elapsed_s: took.as_secs_f64(),
            outputs,
            error: None,
        });
    }

    /// A resumed run keeps a step that completed before.
    pub fn step_kept(&self, step: &str, outputs: &JsonMap) {
        let outputs = if self.watched() { summary(outputs) } else { Map::new() };
        self.emit(|| Event::StepFinished { step: step.into(), status: StepStatus::Kept, attempt: 0, elapsed_s: 0.0, outputs, error: None });
    }

    pub fn step_skipped(&self, step: &str, why: &str) {
        self.emit(|| Event::StepFinished {
            step: step.into(),
            status: StepStatus::Skipped,
            attempt: 0,
            elapsed_s: 0.0,
            outputs: Map::new(),
            error: Some(why.into()),
        });
    }

    pub fn log(&self, step: &str, level: &str, message: &str) {
        self.emit(|| Event::StepLog { step: step.into(), level: level.into(), message: message.into() });
    }

    pub fn step_progress(&self, step: &str, done: Option<u64>, total: Option<u64>, unit: &str) {
        self.emit(|| Event::StepProgress { step: step.into(), done, total, unit: unit.into() });
    }

    pub fn approval_requested(&self, step: &str, message: &str, options: &[String], default: &str) {
        self.emit(|| Event::ApprovalRequested {
            step: step.into(),
            message: message.into(),
            options: options.to_vec(),
            default: default.into(),
        });
    }

    pub fn note(&self, message: &str) {
        self.emit(|| Event::Note { message: message.into() });
    }

    pub fn run_finished(&self, run_id: &str, status: RunStatus, took: Duration, error: Option<&str>) {
        self.emit(|| Event::RunFinished { run_id: run_id.into(), status, duration_s: took.as_secs_f64(), error: error.map(Into::into) });
    }
}

/// Tell `listeners` what preflight noted (before a run starts, so outside any `Emitter`).
pub fn preflight_notes(listeners: &[Listener], notes: &[String]) {
    for message in notes {
        let event = Arc::new(Event::PreflightNote { message: message.clone() });
        for l in listeners {
            l(&event);
        }
    }
}
