//! Any text as a template: the validation scan (names read, unknown filters) and
//! the render against a run's scope must answer or fail cleanly — the fuel limit
//! stops runaway loops, the recursion limit deep nesting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localforge::template::{render_str, to_value, RunParts, RunScope, Scope, StepTable};
use serde_json::json;
use std::sync::Arc;

fn scope() -> Scope {
    let steps = Arc::new(StepTable::default());
    steps.set("list", localforge::status::StepStatus::Completed, &json!({"files": ["a.txt", "b.txt"], "count": 2, "text": "x\ny"}));
    let templates = json!({"greet": "hi", "hello": "{{ templates.greet }} {{ inputs.name }}"});
    let parts = RunParts {
        inputs: to_value(&json!({"name": "world", "n": 3, "items": [1, 2, 3], "m": {"k": "v"}})),
        config: to_value(&json!({"max_iterations": 3})),
        templates: templates.as_object().unwrap().clone(),
        workflow: to_value(&json!({"run_id": "r1", "run_dir": "/tmp/r1", "name": "t"})),
        temp_dir: to_value(&json!("/tmp/r1/temp")),
    };
    Scope::new(RunScope::new(parts, steps))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = localforge::template::references(text);
    let _ = localforge::template::refs::unknown_filters(text);
    let _ = render_str(text, &scope());
});
