//! What a run reports: the `run --json` shape of CLI.md.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::status::{RunStatus, StepStatus};

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub status: StepStatus,
    pub outputs: Map<String, Value>,
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
}

impl StepReport {
    pub fn not_run() -> Self {
        StepReport { status: StepStatus::NotRun, outputs: Map::new(), error: None, attempts: 0, started_at: None, ended_at: None }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub recipe: String,
    pub status: RunStatus,
    pub outputs: Map<String, Value>,
    pub steps: IndexMap<String, StepReport>,
    pub run_dir: String,
    pub error: Option<String>,
    pub started_at: String,
    pub ended_at: String,
    pub duration_s: f64,
    /// Problems that did not change the result (a cleanup error, history not written).
    pub warnings: Vec<String>,
}
