//! The recipe schema specialised to the tools installed here: `tool` is one of them, and
//! for each tool its `action` is one of its actions and each action's `inputs` have their
//! types, required keys, defaults and choices (`if`/`then` on `tool` and `action`).

use super::shapes::template;
use crate::recipe::InputType;
use crate::tools::{ActionInputs, InputDoc, Registry};
use serde_json::{json, Map, Value};

/// The JSON Schema of one value of `ty`, as the engine converts values to it.
pub fn value_of(ty: InputType) -> Value {
    match ty {
        InputType::String | InputType::Path => json!({"type": ["string", "number", "boolean"]}),
        InputType::Integer => json!({"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*[-+]?[0-9]+\s*$"}]}),
        InputType::Number => {
            json!({"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*[-+]?[0-9.]+([eE][-+]?[0-9]+)?\s*$"}]})
        }
        InputType::Boolean => json!({"anyOf": [{"type": "boolean"}, {"enum": ["true", "false", "yes", "no", "on", "off", "1", "0"]}]}),
        // Text holding a JSON list, or items separated by commas, is read as a list too.
        InputType::List => json!({"type": ["array", "string"]}),
        InputType::Object => json!({"type": ["object", "string"]}),
    }
}

/// A value of `ty`, or a template giving one.
fn typed(ty: InputType) -> Value {
    json!({"anyOf": [value_of(ty), template()]})
}

fn input(d: &InputDoc) -> Value {
    let mut s = match &d.choices {
        _ if d.any => json!({}),
        Some(c) => json!({"anyOf": [{"enum": c}, template()]}),
        None => typed(d.ty),
    };
    let o = s.as_object_mut().expect("an object");
    if !d.description.is_empty() {
        o.insert("description".into(), json!(d.description));
    }
    if let Some(v) = &d.default {
        o.insert("default".into(), v.clone());
    }
    if !d.any {
        o.insert("x-localforge-type".into(), json!(d.ty.name()));
    }
    s
}

/// The `inputs` mapping of one action.
pub fn input_schema(a: &ActionInputs) -> Value {
    let props: Map<String, Value> = a.inputs.iter().map(|d| (d.name.clone(), input(d))).collect();
    let required: Vec<&str> = a.inputs.iter().filter(|d| d.required && d.default.is_none()).map(|d| d.name.as_str()).collect();
    let mut s = json!({"type": "object", "properties": props, "additionalProperties": a.open});
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

/// `recipe` (the generic recipe schema) specialised to the tools of `tools` (those that
/// loaded: one that lacks a program here is still a tool; preflight says what it lacks).
pub fn specialise(mut recipe: Value, tools: &Registry) -> Value {
    use crate::recipe::ToolCatalog;
    let names: Vec<String> = tools.tool_names();
    let step = &mut recipe["$defs"]["step"];
    step["properties"]["tool"]["enum"] = json!(names);
    let mut rules = Vec::new();
    for t in tools.tools().filter(|t| names.iter().any(|n| n == t.name())) {
        let actions = t.actions();
        let per_action: Vec<Value> = actions
            .iter()
            .filter_map(|a| {
                let inputs = t.inputs(a)?;
                Some(json!({"if": {"properties": {"action": {"const": a}}, "required": ["action"]},
                            "then": {"properties": {"inputs": input_schema(&inputs)}}}))
            })
            .collect();
        let mut then = json!({"properties": {"action": {"enum": actions}}});
        if !per_action.is_empty() {
            then["allOf"] = Value::Array(per_action);
        }
        rules.push(json!({"if": {"properties": {"tool": {"const": t.name()}}, "required": ["tool"]}, "then": then}));
    }
    rules.push(json!({"if": {"properties": {"tool": {"const": "batch"}}, "required": ["tool"]},
                      "then": {"properties": {"action": {"enum": crate::tools::BATCH_ACTIONS}}}}));
    if let Some(all) = step["allOf"].as_array_mut() {
        all.extend(rules);
    }
    recipe["$id"] = json!("https://localforge.dev/schemas/recipe.local.schema.json");
    recipe["description"] = json!("A LocalForge recipe, for the tools installed where `localforge schema recipe` ran.");
    recipe
}
