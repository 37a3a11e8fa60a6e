//! The run as a plugin sees it through its `ctx`.

use crate::template::{render_str, render_value, Scope, StepTable};
use crate::tools::RunView;
use serde_json::Value;
use std::sync::Arc;

pub(super) struct View {
    pub info: Arc<Value>,
    pub scope: Scope,
    pub steps: Arc<StepTable>,
}

impl RunView for View {
    fn info(&self) -> Arc<Value> {
        self.info.clone()
    }

    fn steps_output(&self) -> Value {
        self.steps.outputs_json()
    }

    fn resolve(&self, value: &Value) -> Result<Value, String> {
        render_value(value, &self.scope).map_err(|e| e.message)
    }

    fn evaluate(&self, expr: &str) -> Result<Value, String> {
        render_str(&format!("{{{{ {expr} }}}}"), &self.scope).map_err(|e| e.message)
    }

    fn set_output(&self, id: &str, outputs: &Value) {
        self.steps.set(id, "completed", outputs);
    }
}
