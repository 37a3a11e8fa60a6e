//! A key table as a JSON Schema object, each value as the parser reads it.

use super::{Key, Shape};
use serde_json::{json, Map, Value};

/// Text that reads as a number, as the parser takes it (`retry_delay: "2.5"`).
const NUMERIC: &str = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$";
/// Text that reads as a whole number of 0 or more.
const WHOLE: &str = r"^\s*\+?[0-9]+(\.0*)?([eE]\+?[0-9]+)?\s*$";
/// The words the parser reads as true or false.
const BOOLEAN_WORDS: &str = "^([Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]|[Oo][Ff][Ff]|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$";

/// A mapping with exactly `keys` (`open`: other keys allowed too), `required` among them.
pub fn object(keys: &[Key], required: &[&str], open: bool) -> Value {
    let mut props = Map::new();
    for k in keys {
        let mut s = shape(k.shape, required.contains(&k.name));
        s["description"] = json!(k.doc);
        props.insert(k.name.into(), s);
    }
    let mut o = json!({"type": "object", "properties": props, "additionalProperties": open});
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    o
}

/// The schema of one value; a required one may not be null.
pub fn shape(s: Shape, required: bool) -> Value {
    let types = |mut types: Vec<&str>| {
        if !required {
            types.push("null");
        }
        json!(types)
    };
    match s {
        Shape::Text => json!({"type": types(vec!["string", "number", "boolean"])}),
        Shape::Word(words) => {
            let mut all: Vec<Value> = words.iter().map(|w| json!(w)).collect();
            if !required {
                all.push(Value::Null);
            }
            json!({"enum": all})
        }
        Shape::Bool => json!({"type": types(vec!["boolean", "string"]), "pattern": BOOLEAN_WORDS}),
        Shape::Flag => json!({"type": types(vec!["boolean"])}),
        Shape::FlagOr(words) => {
            let mut all: Vec<Value> = vec![json!(true), json!(false)];
            all.extend(words.iter().map(|w| json!(w)));
            if !required {
                all.push(Value::Null);
            }
            json!({"enum": all})
        }
        Shape::Number { min, max } => {
            let mut s = json!({"type": types(vec!["number", "string"]), "minimum": min, "pattern": NUMERIC});
            if max.is_finite() {
                s["maximum"] = json!(max);
            }
            s
        }
        Shape::Count { min, max } => {
            let mut s = json!({"type": types(vec!["integer", "number", "string"]), "minimum": min, "multipleOf": 1, "pattern": WHOLE});
            if max != u32::MAX {
                s["maximum"] = json!(max);
            }
            s
        }
        Shape::TextList => json!({"type": types(vec!["array", "string"]), "items": {"type": "string"}}),
        Shape::Condition => json!({"type": ["string", "boolean"]}),
        Shape::Card => json!({"type": types(vec!["boolean", "integer", "string"]), "minimum": 0}),
        Shape::Any => json!({}),
        Shape::Mapping => json!({"type": "object"}),
        Shape::Def(name) => json!({"$ref": format!("#/$defs/{name}")}),
        Shape::ListOf(name) => json!({"type": "array", "items": {"$ref": format!("#/$defs/{name}")}}),
    }
}

/// Text holding a template: any value may be given as one, filled in when the step runs.
pub fn template() -> Value {
    json!({"type": "string", "pattern": r"\{\{|\{%", "description": "A template, rendered when the step runs."})
}
