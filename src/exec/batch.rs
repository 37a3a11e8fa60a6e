//! `batch.foreach`: the sub-steps rendered and run once per item.

use super::fail::Fail;
use super::report::StepStatus;
use super::state::Run;
use crate::recipe::Step;
use crate::template::{ItemScope, Scope};
use crate::tools::JsonMap;
use futures_util::stream::{FuturesUnordered, StreamExt};
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
        inputs: JsonMap,
        cancel: CancellationToken,
    ) -> Result<JsonMap, Fail> {
        let items = items(inputs.get("items")).map_err(Fail::msg)?;
        let parallel = match inputs.get("parallel") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| Fail::msg(format!("batch.foreach: `parallel` must be a whole number of 1 or more, got {v}")))?
                as usize,
        };
        let subs = step.batch.as_deref().unwrap_or_default();
        // Up to `parallel` items at once; after a failure no new item starts and the
        // ones in flight finish (and are recorded). Results stay in item order.
        let mut results: Vec<Option<Value>> = vec![None; items.len()];
        let mut running = FuturesUnordered::new();
        let mut next = 0;
        let mut failure: Option<Fail> = None;
        let mut done = 0u64;
        loop {
            while failure.is_none() && running.len() < parallel && next < items.len() {
                if cancel.is_cancelled() {
                    failure = Some(Fail::Cancelled);
                    break;
                }
                let index = next;
                let item = &items[index];
                running.push(async move { (index, self.item(subs, scope, record_id, index, item).await) });
                next += 1;
            }
            let Some((index, r)) = running.next().await else { break };
            match r {
                Ok(v) => {
                    results[index] = Some(v);
                    done += 1;
                    self.events.step_progress(record_id, Some(done), Some(items.len() as u64), "items");
                }
                Err(e) => {
                    // The first failure in item order is the one reported.
                    if failure.is_none() || matches!(failure, Some(Fail::Cancelled)) {
                        failure = Some(e);
                    }
                }
            }
        }
        drop(running);
        if let Some(f) = failure {
            return Err(f);
        }
        let results: Vec<Value> = results.into_iter().flatten().collect();
        let mut out = JsonMap::new();
        out.insert("count".into(), json!(results.len()));
        out.insert("results".into(), Value::Array(results));
        out.insert("items_processed".into(), Value::Array(items));
        Ok(out)
    }

    /// One item: its sub-steps in order, each seeing the earlier ones' outputs.
    async fn item(self: &Arc<Self>, subs: &[Step], scope: &Scope, record_id: &str, index: usize, item: &Value) -> Result<Value, Fail> {
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
            let report = match self.kept_items.get(&rec) {
                // Completed before a resume: its outputs stand (as for whole steps).
                Some(prev) => {
                    self.kept(&rec);
                    self.events.step_kept(&rec, &prev.outputs);
                    prev.clone()
                }
                None => self.run_step(sub, &sub_scope, &rec).await,
            };
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
        Ok(json!({"item": item, "index": index, "outputs": outputs}))
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
