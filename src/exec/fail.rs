//! How an attempt fails (`Fail`), and the validator gate that fails one whose outputs
//! say `passed: false`.

use crate::recipe::{OnFailure, Step};
use crate::tools::{JsonMap, ToolError};
use serde_json::Value;

/// Why an attempt did not succeed.
pub(super) enum Fail {
    Failed { message: String, detail: Option<String>, outputs: JsonMap },
    Cancelled,
}

impl Fail {
    pub fn msg(message: impl Into<String>) -> Self {
        Fail::Failed { message: message.into(), detail: None, outputs: JsonMap::new() }
    }
}

impl From<ToolError> for Fail {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::Failed { message, detail } => Fail::Failed { message, detail, outputs: JsonMap::new() },
            ToolError::Cancelled => Fail::Cancelled,
        }
    }
}

/// Whether `gate` fails these outputs.
pub(super) fn gate_fails(step: &Step, outputs: &JsonMap) -> bool {
    outputs.get("passed") == Some(&Value::Bool(false)) && (step.gate || step.on_failure == OnFailure::Refine)
}

/// `gate: true`: outputs saying `passed: false` fail the step with their `failures`.
pub(super) fn gate(step: &Step, outputs: JsonMap) -> Result<JsonMap, Fail> {
    if !gate_fails(step, &outputs) {
        return Ok(outputs);
    }
    let failures = match outputs.get("failures") {
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect::<Vec<_>>().join("; ")
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "no failures listed".into(),
    };
    Err(Fail::Failed { message: format!("gate failed: {failures}"), detail: None, outputs })
}
