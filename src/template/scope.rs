//! What templates see while a run is going: `inputs`, `steps`, `config`, ...
//!
//! Step outputs live in one shared table that grows as steps finish; the
//! `steps` object looks into it on demand, so rendering a step never copies
//! the outputs of every step before it.

use crate::status::StepStatus;
use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::Value;
use std::sync::{Arc, RwLock};

/// Outputs and status of the steps that have finished, by id.
#[derive(Debug, Default)]
pub struct StepTable {
    entries: RwLock<IndexMap<String, Value>>,
}

impl StepTable {
    /// Record a step's status and outputs (replacing an earlier attempt's).
    /// `outputs`: a JSON object (a `serde_json::Value` or `Map`).
    pub fn set<T: serde::Serialize + ?Sized>(&self, id: &str, status: StepStatus, outputs: &T) {
        let entry =
            Value::from_pairs([("status", Value::from(status.as_str())), ("outputs", Value::from(minijinja::value::Serde(outputs)))]);
        self.entries.write().expect("step table poisoned").insert(id.to_string(), entry);
    }

    pub fn get(&self, id: &str) -> Option<Value> {
        self.entries.read().expect("step table poisoned").get(id).cloned()
    }

    /// Every finished step's outputs as JSON, by id (what plugins see as `ctx.steps_output`).
    pub fn outputs_json(&self) -> serde_json::Value {
        let entries = self.entries.read().expect("step table poisoned");
        let map = entries
            .iter()
            .map(|(id, entry)| {
                let outputs = entry.get_attr("outputs").ok().and_then(|o| serde_json::to_value(&o).ok()).unwrap_or_default();
                (id.clone(), outputs)
            })
            .collect();
        serde_json::Value::Object(map)
    }

    pub fn ids(&self) -> Vec<String> {
        self.entries.read().expect("step table poisoned").keys().cloned().collect()
    }
}

/// Values fixed for the whole run.
#[derive(Debug)]
pub struct RunScope {
    pub inputs: Value,
    pub config: Value,
    pub templates: Value,
    pub workflow: Value,
    pub temp_dir: Value,
    pub steps: Arc<StepTable>,
}

/// The fixed values of a run's scope.
pub struct RunParts {
    pub inputs: Value,
    pub config: Value,
    pub templates: serde_json::Map<String, serde_json::Value>,
    pub workflow: Value,
    pub temp_dir: Value,
}

/// The per-item scope inside `batch.foreach`.
#[derive(Debug, Default)]
pub struct ItemScope {
    pub item: Value,
    pub item_index: Value,
    /// Sub-steps of this item that have finished: `{status, outputs}` by id.
    pub substeps: IndexMap<String, Value>,
}

/// The root object templates render against.
#[derive(Debug, Clone)]
pub struct Scope {
    run: Arc<RunScope>,
    item: Option<Arc<ItemScope>>,
}

const ROOT_NAMES: &[&str] = &["inputs", "steps", "config", "templates", "workflow", "temp_dir", "timestamp"];

impl Scope {
    pub fn new(run: Arc<RunScope>) -> Self {
        Scope { run, item: None }
    }

    pub fn with_item(&self, item: Arc<ItemScope>) -> Self {
        Scope { run: self.run.clone(), item: Some(item) }
    }

    pub fn run(&self) -> &Arc<RunScope> {
        &self.run
    }

    pub fn value(&self) -> Value {
        Value::from_object(self.clone())
    }
}

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let run = &self.run;
        Some(match key {
            "inputs" => run.inputs.clone(),
            "steps" => Value::from_object(StepsView { table: run.steps.clone(), item: self.item.clone() }),
            "config" => run.config.clone(),
            "templates" => run.templates.clone(),
            "workflow" => run.workflow.clone(),
            "temp_dir" => run.temp_dir.clone(),
            "timestamp" => Value::from(chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
            _ => {
                let item = self.item.as_ref()?;
                match key {
                    "item" => item.item.clone(),
                    "item_index" => item.item_index.clone(),
                    _ => item.substeps.get(key)?.clone(),
                }
            }
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut names: Vec<Value> = ROOT_NAMES.iter().map(|n| Value::from(*n)).collect();
        if let Some(item) = &self.item {
            names.push(Value::from("item"));
            names.push(Value::from("item_index"));
            names.extend(item.substeps.keys().map(|k| Value::from(k.as_str())));
        }
        Enumerator::Values(names)
    }
}

/// `steps`: finished steps of the run, plus the current batch item's sub-steps.
#[derive(Debug)]
struct StepsView {
    table: Arc<StepTable>,
    item: Option<Arc<ItemScope>>,
}

impl Object for StepsView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        if let Some(v) = self.item.as_ref().and_then(|i| i.substeps.get(key)) {
            return Some(v.clone());
        }
        self.table.get(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut ids: Vec<Value> = self.table.ids().into_iter().map(Value::from).collect();
        if let Some(item) = &self.item {
            ids.extend(item.substeps.keys().map(|k| Value::from(k.as_str())));
        }
        Enumerator::Values(ids)
    }
}
