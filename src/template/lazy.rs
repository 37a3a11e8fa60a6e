//! `templates`: the recipe's reusable strings, rendered when read, so they can use
//! inputs, config and the outputs of steps that have run; the run's scope is made here.

use super::env::to_value;
use super::render::{render_value, TEMPLATE_ERROR};
use super::scope::{RunParts, RunScope, Scope, StepTable};
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::Value;
use std::sync::Arc;

impl RunScope {
    /// The run's scope; `templates` entries are rendered when read, so they can
    /// use inputs, config and the outputs of steps that have run.
    pub fn new(parts: RunParts, steps: Arc<StepTable>) -> Arc<Self> {
        let RunParts { inputs, config, templates, workflow, temp_dir } = parts;
        Arc::new_cyclic(|me| RunScope {
            inputs,
            config,
            templates: Value::from_object(TemplatesView { raw: templates, run: me.clone() }),
            workflow,
            temp_dir,
            steps,
        })
    }
}

thread_local! {
    static TEMPLATE_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// `templates`: the recipe's reusable strings, rendered on access.
#[derive(Debug)]
struct TemplatesView {
    raw: serde_json::Map<String, serde_json::Value>,
    run: std::sync::Weak<RunScope>,
}

impl Object for TemplatesView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let raw = self.raw.get(name)?;
        let run = self.run.upgrade()?;
        let depth = TEMPLATE_DEPTH.with(|d| d.get());
        if depth > 8 {
            TEMPLATE_ERROR.with(|e| *e.borrow_mut() = Some(format!("`templates.{name}` refers to templates in a loop")));
            return None;
        }
        TEMPLATE_ERROR.with(|e| e.borrow_mut().take()); // a stale error from an earlier lookup
        TEMPLATE_DEPTH.with(|d| d.set(depth + 1));
        let rendered = render_value(raw, &Scope::new(run));
        TEMPLATE_DEPTH.with(|d| d.set(depth));
        match rendered {
            Ok(v) => Some(to_value(&v)),
            Err(e) => {
                TEMPLATE_ERROR.with(|slot| *slot.borrow_mut() = Some(format!("`templates.{name}`: {}", e.message)));
                None
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.raw.keys().map(|k| Value::from(k.as_str())).collect())
    }
}
