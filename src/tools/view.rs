//! The run as a plugin sees it through its `ctx`.

use super::RunView;
use crate::status::StepStatus;
use crate::template::{render_str, render_value, RenderError, Scope, StepTable};
use serde_json::Value;
use std::sync::Arc;

/// What each call of a run read of the run through its plugin's `ctx`, by record id.
pub type Reads = Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>;

pub struct View {
    pub info: Arc<Value>,
    pub scope: Scope,
    pub steps: Arc<StepTable>,
    /// Where a read of the run is told, by the call's record id (`exec::state::Run::read_run`).
    pub reads: Option<(String, Reads)>,
}

impl RunView for View {
    fn info(&self) -> Arc<Value> {
        self.info.clone()
    }

    fn steps_output(&self) -> Value {
        self.steps.outputs_json()
    }

    fn resolve(&self, value: &Value) -> Result<Value, RenderError> {
        render_value(value, &self.scope)
    }

    fn evaluate(&self, expr: &str) -> Result<Value, RenderError> {
        render_str(&format!("{{{{ {expr} }}}}"), &self.scope)
    }

    fn set_output(&self, id: &str, outputs: &Value) {
        self.steps.set(id, StepStatus::Completed, outputs);
    }

    fn read(&self, what: &str) {
        if let Some((record, reads)) = &self.reads {
            reads.lock().expect("reads").entry(record.clone()).or_insert_with(|| what.to_string());
        }
    }
}

/// The run as a plugin sees it on another machine: rebuilt from the run's info (inputs,
/// config, templates, folders) and the outputs of the steps finished so far, as the
/// driver sent them. Templates render as on the driver; `set_output` stays local; what the
/// call reads of the run goes into `reads` (for the driver's step cache).
pub fn detached(info: Value, steps: &Value, reads: Reads) -> Arc<dyn RunView> {
    use crate::template::{to_value, RunParts, RunScope};
    let table = Arc::new(StepTable::default());
    for (id, outputs) in steps.as_object().into_iter().flatten() {
        table.set(id, StepStatus::Completed, outputs);
    }
    let recipe = &info["recipe"];
    let parts = RunParts {
        inputs: to_value(&info["inputs"]),
        config: to_value(&info["config"]),
        templates: recipe["templates"].as_object().cloned().unwrap_or_default(),
        workflow: to_value(&serde_json::json!({"run_id": info["run_id"], "run_dir": info["run_dir"], "name": recipe["name"]})),
        temp_dir: to_value(&info["temp_dir"]),
    };
    let scope = Scope::new(RunScope::new(parts, table.clone()));
    Arc::new(View { info: Arc::new(info), scope, steps: table, reads: Some((String::new(), reads)) })
}
