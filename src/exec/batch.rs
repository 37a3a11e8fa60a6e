//! `batch.foreach`: the sub-steps rendered and run once per item.

use super::attempt::Fail;
use super::report::StepStatus;
use super::runner::Run;
use crate::recipe::Step;
use crate::template::{ItemScope, Scope};
use crate::tools::Outputs;
use minijinja::Value as MjValue;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

impl Run {
    pub(super) async fn batch(
        self: &Arc<Self>,
        step: &Step,
        scope: &Scope,
        record_id: &str,
        inputs: Outputs,
        cancel: CancellationToken,
    ) -> Result<Outputs, Fail> {
        let items = items(inputs.get("items")).map_err(Fail::msg)?;
        let subs = step.batch.as_deref().unwrap_or_default();
        let mut results = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(Fail::Cancelled);
            }
            let mut item_scope =
                ItemScope { item: crate::template::to_value(item), item_index: MjValue::from(index), substeps: Default::default() };
            let mut outputs = serde_json::Map::new();
            for sub in subs {
                let sub_scope = scope.with_item(Arc::new(ItemScope {
                    item: item_scope.item.clone(),
                    item_index: item_scope.item_index.clone(),
                    substeps: item_scope.substeps.clone(),
                }));
                let rec = format!("{record_id}[{index}].{}", sub.id);
                let report = self.run_step(sub, &sub_scope, &rec).await;
                match report.status {
                    StepStatus::Completed | StepStatus::Skipped => {}
                    StepStatus::Cancelled => return Err(Fail::Cancelled),
                    _ => {
                        return Err(Fail::msg(format!(
                            "item {index} ({}): sub-step `{}` failed: {}",
                            short(item),
                            sub.id,
                            report.error.unwrap_or_default()
                        )))
                    }
                }
                let entry = MjValue::from_pairs([
                    ("status", MjValue::from(report.status.as_str())),
                    ("outputs", crate::template::to_value(&Value::Object(report.outputs.clone()))),
                ]);
                item_scope.substeps.insert(sub.id.clone(), entry);
                outputs.insert(sub.id.clone(), Value::Object(report.outputs));
            }
            results.push(json!({"item": item, "index": index, "outputs": outputs}));
        }
        let mut out = Outputs::new();
        out.insert("count".into(), json!(results.len()));
        out.insert("results".into(), Value::Array(results));
        out.insert("items_processed".into(), Value::Array(items));
        Ok(out)
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// `items` as a list: a list, or (as in 0.x) text holding a JSON / Python-style
/// list or comma-separated values.
fn items(v: Option<&Value>) -> Result<Vec<Value>, String> {
    match v {
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.starts_with('[') {
                if let Ok(Value::Array(a)) = crate::recipe::inputs::convert_text(crate::recipe::InputType::List, t) {
                    return Ok(a);
                }
            }
            Ok(t.split(',').map(str::trim).filter(|x| !x.is_empty()).map(|x| Value::String(x.to_string())).collect())
        }
        Some(Value::Null) | None => Err("batch.foreach needs `items`: a list".into()),
        Some(other) => Err(format!("batch.foreach: `items` must be a list, got {other}")),
    }
}
