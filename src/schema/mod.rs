//! JSON Schemas (draft 2020-12) for recipes, YAML tool definitions and the configuration,
//! written from the parsers' own key tables (`recipe::keys`, `tools::cli::keys`,
//! `config::keys`) so they cannot drift from what the parsers accept; and a recipe schema
//! specialised to the tools installed here (`tools`).

mod inputs;
mod shapes;

pub use crate::key::{allows, names, Key, Shape};
pub use inputs::{input_schema, specialise};

use serde_json::{json, Map, Value};

pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";
const BASE: &str = "https://localforge.dev/schemas";

/// The documents `localforge schema` writes and the wheel ships.
pub const KINDS: &[&str] = &["recipe", "tool", "config"];

/// The schema of `kind` (`recipe`, `tool`, `config`), not specialised to any machine.
pub fn document(kind: &str) -> Option<Value> {
    Some(match kind {
        "recipe" => recipe(),
        "tool" => tool(),
        "config" => config(),
        _ => return None,
    })
}

fn root(kind: &str, title: &str, description: &str, body: Value, defs: Map<String, Value>) -> Value {
    let mut doc = json!({
        "$schema": DRAFT,
        "$id": format!("{BASE}/{kind}.schema.json"),
        "title": title,
        "description": description,
    });
    let obj = doc.as_object_mut().expect("an object");
    obj.extend(body.as_object().cloned().unwrap_or_default());
    obj.insert("$defs".into(), Value::Object(defs));
    doc
}

/// `batch.foreach`'s inputs (its `workflow_steps` are `$defs/batchStep` of the recipe schema).
pub fn batch_inputs() -> Value {
    shapes::object(crate::recipe::keys::BATCH_INPUTS, &["items", "workflow_steps"], false)
}

fn recipe() -> Value {
    use crate::recipe::keys::*;
    let mut defs = Map::new();
    defs.insert("input".into(), input(INPUT));
    defs.insert("step".into(), step(STEP));
    defs.insert(
        "batchStep".into(),
        json!({"allOf": [{"$ref": "#/$defs/step"}], "not": {"required": ["depends_on"]},
        "description": "A step of `workflow_steps`: they run in order for each item, so `depends_on` does not apply."}),
    );
    defs.insert("batchInputs".into(), batch_inputs());
    defs.insert("refinement".into(), shapes::object(REFINEMENT, &["steps"], false));
    defs.insert("cleanup".into(), shapes::object(CLEANUP, &[], false));
    defs.insert("cleanupAction".into(), cleanup_action(CLEANUP_ACTION));
    defs.insert("resources".into(), shapes::object(RESOURCES, &[], false));
    defs.insert("recipeConfig".into(), shapes::object(CONFIG, &[], true));
    defs.insert(
        "outputs".into(),
        json!({"anyOf": [{"type": "object"}, {"type": "null"},
                         {"type": "array", "items": {"type": "object", "required": ["name"]}}]}),
    );
    defs.insert("template".into(), shapes::template());
    let mut body = shapes::object(TOP, &["name", "steps"], false);
    body["properties"]["steps"]["minItems"] = json!(1);
    root("recipe", "LocalForge recipe", "A LocalForge recipe: inputs, steps of tool actions, templates between them.", body, defs)
}

/// A declared input: its `default` must be of its `type`.
fn input(keys: &[Key]) -> Value {
    use crate::recipe::InputType;
    let mut s = shapes::object(keys, &["name"], false);
    let rules: Vec<Value> = InputType::NAMES
        .iter()
        .filter_map(|n| InputType::parse(n))
        .filter(|t| !matches!(t, InputType::String | InputType::Path))
        .map(|t| {
            let spellings: Vec<&str> = InputType::SPELLINGS.iter().copied().filter(|s| InputType::parse(s) == Some(t)).collect();
            json!({"if": {"properties": {"type": {"enum": spellings}}, "required": ["type"]},
                   "then": {"properties": {"default": {"anyOf": [inputs::value_of(t), {"type": "null"}]}}}})
        })
        .collect();
    s["allOf"] = Value::Array(rules);
    s
}

/// A step: its keys, and which apply to which `type` (as the parser checks them).
fn step(keys: &[Key]) -> Value {
    let mut s = shapes::object(keys, &["id"], false);
    s["properties"]["id"]["type"] = json!("string");
    s["properties"]["id"]["pattern"] = json!("^[A-Za-z_][A-Za-z0-9_-]*$");
    let required = |k: &[&str]| -> Value { Value::Array(k.iter().map(|k| json!({"required": [k]})).collect()) };
    let is_tool = json!({"anyOf": [{"not": {"required": ["type"]}}, {"properties": {"type": {"enum": ["tool", null]}}}]});
    s["allOf"] = json!([
        {"if": is_tool, "then": {"required": ["tool", "action"],
                                 "not": {"anyOf": required(&["message", "options", "default_action", "trigger", "steps"])}}},
        {"if": {"properties": {"type": {"const": "approval_gate"}}, "required": ["type"]},
         "then": {"not": {"anyOf": required(&["tool", "action", "trigger", "steps"])}}},
        {"if": {"properties": {"type": {"const": "refinement"}}, "required": ["type"]}, "then": {"required": ["trigger", "steps"]}},
        {"if": {"properties": {"tool": {"const": "batch"}, "action": {"const": "foreach"}}, "required": ["tool", "action"]},
         "then": {"required": ["inputs"], "properties": {"inputs": {"$ref": "#/$defs/batchInputs"}}},
         "else": {"properties": {"inputs": {"type": ["object", "null"]}}}},
    ]);
    s
}

fn cleanup_action(keys: &[Key]) -> Value {
    let mut s = shapes::object(keys, &["action"], false);
    s["allOf"] = json!([
        {"if": {"properties": {"action": {"enum": ["delete", "preserve"]}}}, "then": {"required": ["path"]}},
        {"if": {"properties": {"action": {"const": "move"}}}, "then": {"required": ["source", "destination"]}},
    ]);
    s
}

fn tool() -> Value {
    use crate::tools::cli::keys::*;
    let mut defs = Map::new();
    defs.insert(
        "toolActions".into(),
        json!({"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/$defs/toolAction"}}),
    );
    defs.insert("toolAction".into(), shapes::object(ACTION, &["command"], false));
    defs.insert("toolCommand".into(), json!({"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1}]}));
    defs.insert("toolInputs".into(), json!({"type": "object", "additionalProperties": {"$ref": "#/$defs/toolInput"}}));
    defs.insert("toolInput".into(), shapes::object(INPUT, &[], false));
    defs.insert(
        "toolOutputs".into(),
        json!({"type": "object", "additionalProperties": {"anyOf": [
            {"type": "string", "description": "A template of the output's value."},
            {"type": "object", "required": ["path"], "properties": {"path": {"type": "string", "description": "The file the command makes (a template)."}}}
        ]}}),
    );
    defs.insert("toolRequirements".into(), shapes::object(REQUIREMENTS, &[], false));
    defs.insert("toolExample".into(), shapes::object(EXAMPLE, &["action"], false));
    defs.insert("toolExpect".into(), shapes::object(EXPECT, &[], false));
    defs.insert("env".into(), json!({"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}));
    let body = shapes::object(TOP, &["name", "actions"], false);
    root("tool", "LocalForge YAML tool", "A command-line program as a LocalForge tool: its actions, typed inputs and outputs.", body, defs)
}

/// The executor's settings, as `localforge.executors.settings` reads them (stricter than
/// the recipe's numbers: `inline_mb` is a number above 0, `address` text).
fn executor(keys: &[Key]) -> Value {
    let mut s = shapes::object(keys, &[], false);
    s["properties"]["inline_mb"]["type"] = json!("number");
    s["properties"]["inline_mb"]["exclusiveMinimum"] = json!(0);
    s["properties"]["address"]["type"] = json!(["string", "null"]);
    s
}

fn config() -> Value {
    use crate::config::keys::*;
    let mut defs = Map::new();
    defs.insert("persistence".into(), shapes::object(PERSISTENCE, &[], true));
    defs.insert("configResources".into(), shapes::object(RESOURCES, &[], true));
    defs.insert("cacheSettings".into(), shapes::object(CACHE, &[], true));
    defs.insert("service".into(), shapes::object(SERVICE, &[], true));
    defs.insert("serviceInstance".into(), shapes::object(SERVICE_INSTANCE, &["host"], true));
    defs.insert(
        "services".into(),
        json!({"type": ["object", "null"], "additionalProperties": {"anyOf": [{"$ref": "#/$defs/service"}, {"type": "null"}]}}),
    );
    defs.insert(
        "executor".into(),
        json!({"anyOf": [
            {"type": "string", "pattern": "^(local|ray)(:.+)?$"},
            {"type": "null"},
            executor(EXECUTOR),
        ]}),
    );
    // Other keys are kept and ignored (0.x files carry their own): not an error.
    let body = shapes::object(TOP, &[], true);
    root(
        "config",
        "LocalForge configuration",
        "localforge.yaml (or ~/.localforge/config.yaml): folders, services, history, cache, executor.",
        body,
        defs,
    )
}

#[cfg(test)]
mod tests;
