//! Typed recipe inputs: converting what the caller gave to the declared type.

use super::model::{InputSpec, InputType, Recipe};
use crate::diag::{did_you_mean, list_names, Diagnostic};
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// A value that does not fit its input's declaration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Mismatch {
    /// Not of the declared type (`expected a whole number, got `2.5``).
    #[error("expected {expected}, got {got}")]
    Type { expected: String, got: String },
    /// Of the type, but not one of the `choices`.
    #[error("`{value}` is not one of the choices {choices}")]
    Choice { value: String, choices: String },
}

fn mismatch(expected: impl Into<String>, got: impl Into<String>) -> Mismatch {
    Mismatch::Type { expected: expected.into(), got: got.into() }
}

/// Convert a value to the input type; text (as from `--input k=v`) is parsed.
pub fn convert(ty: InputType, value: &Value) -> Result<Value, Mismatch> {
    match (ty, value) {
        (_, Value::String(s)) => convert_text(ty, s),
        (InputType::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (InputType::Number, Value::Number(_)) => Ok(value.clone()),
        (InputType::Integer, Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Value::from(i)),
            None => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Value::from(f as i64)),
                _ => Err(mismatch("a whole number", format!("`{n}`"))),
            },
        },
        (InputType::Boolean, Value::Bool(_)) | (InputType::List, Value::Array(_)) | (InputType::Object, Value::Object(_)) => {
            Ok(value.clone())
        }
        (ty, other) => Err(mismatch(describe(ty), kind(other))),
    }
}

/// Convert text to the input type.
pub fn convert_text(ty: InputType, s: &str) -> Result<Value, Mismatch> {
    let t = s.trim();
    match ty {
        InputType::String => Ok(Value::String(s.to_string())),
        InputType::Path => Ok(Value::String(expand_home(s))),
        InputType::Number => {
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Value::from(i));
            }
            t.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| mismatch("a number", format!("`{s}`")))
        }
        InputType::Integer => t.parse::<i64>().map(Value::from).map_err(|_| mismatch("a whole number", format!("`{s}`"))),
        InputType::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err(mismatch("true or false", format!("`{s}`"))),
        },
        InputType::List => {
            if t.starts_with('[') {
                return parse_json_like(t)
                    .filter(Value::is_array)
                    .ok_or_else(|| mismatch("a list", format!("`{s}` (not a valid JSON list)")));
            }
            Ok(Value::Array(t.split(',').map(str::trim).filter(|x| !x.is_empty()).map(|x| Value::String(x.to_string())).collect()))
        }
        InputType::Object => {
            parse_json_like(t).filter(Value::is_object).ok_or_else(|| mismatch("a JSON object like {\"key\": \"value\"}", format!("`{s}`")))
        }
    }
}

/// JSON, or a Python-style literal with single quotes (as 0.x accepted).
fn parse_json_like(t: &str) -> Option<Value> {
    serde_json::from_str(t).ok().or_else(|| {
        let swapped = t.replace('\'', "\"").replace("True", "true").replace("False", "false").replace("None", "null");
        serde_json::from_str(&swapped).ok()
    })
}

fn expand_home(s: &str) -> String {
    match (s.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest).to_string_lossy().into_owned(),
        _ => s.to_string(),
    }
}

fn describe(ty: InputType) -> &'static str {
    match ty {
        InputType::String => "text",
        InputType::Path => "a path (text)",
        InputType::Number => "a number",
        InputType::Integer => "a whole number",
        InputType::Boolean => "true or false",
        InputType::List => "a list",
        InputType::Object => "a mapping",
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Whether `value` is among `choices` (numbers compare by value).
pub fn in_choices(value: &Value, choices: &[Value]) -> bool {
    choices.iter().any(|c| c == value || matches!((c.as_f64(), value.as_f64()), (Some(a), Some(b)) if a == b))
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Check one value against a spec: type, then choices.
pub fn check(spec: &InputSpec, value: &Value) -> Result<Value, Mismatch> {
    let converted = convert(spec.ty, value)?;
    if let Some(choices) = &spec.choices {
        if !in_choices(&converted, choices) {
            let names: Vec<String> = choices.iter().map(shown).collect();
            return Err(Mismatch::Choice { value: shown(&converted), choices: list_names(&names) });
        }
    }
    Ok(converted)
}

/// A relative `path` input from the folder the run was started in: every tool gets the same
/// place whatever folder it works in (Blender runs in the run's temp folder, say).
fn absolute(spec: &InputSpec, v: Value) -> Value {
    match v {
        Value::String(p) if spec.ty == InputType::Path && !p.is_empty() && std::path::Path::new(&p).is_relative() && !p.contains("{{") => {
            std::path::absolute(&p).map(|a| Value::String(a.to_string_lossy().into_owned())).unwrap_or(Value::String(p))
        }
        other => other,
    }
}

/// The run's inputs: given values converted, defaults filled in, every problem reported.
pub fn bind(recipe: &Recipe, given: &IndexMap<String, Value>) -> Result<Map<String, Value>, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let names: Vec<&str> = recipe.inputs.iter().map(|i| i.name.as_str()).collect();
    for key in given.keys() {
        if !names.contains(&key.as_str()) {
            let hint =
                did_you_mean(key, names.iter().copied()).unwrap_or_else(|| format!("this recipe's inputs are {}", list_names(&names)));
            diags.push(Diagnostic::new(format!("unknown input `{key}` for recipe `{}`", recipe.name)).hint(hint));
        }
    }
    let mut out = Map::new();
    for spec in &recipe.inputs {
        match (given.get(&spec.name), &spec.default) {
            (Some(v), _) => match check(spec, v) {
                Ok(Value::String(p)) if spec.must_exist && !std::path::Path::new(&p).exists() => {
                    diags.push(Diagnostic::new(format!("input `{}`: `{p}` does not exist", spec.name)).hint(format!(
                        "pass a file or folder that exists{}; if the run creates it, declare the input with `must_exist: false`",
                        if std::path::Path::new(&p).is_relative() { " (relative paths start from the folder you run in)" } else { "" }
                    )))
                }
                Ok(v) => {
                    out.insert(spec.name.clone(), absolute(spec, v));
                }
                Err(e) => diags.push(Diagnostic::new(format!("input `{}`: {e}", spec.name)).hint(format!(
                    "pass it as `--input {}=VALUE` with {}",
                    spec.name,
                    describe(spec.ty)
                ))),
            },
            (None, Some(default)) => match absolute(spec, default.clone()) {
                // Checked as a given path is: a default is what the run reads all the same.
                Value::String(p) if spec.must_exist && !p.contains("{{") && !std::path::Path::new(&p).exists() => {
                    diags.push(Diagnostic::new(format!("input `{}`: its default `{p}` does not exist", spec.name)).hint(format!(
                        "pass `--input {}=PATH` of a file or folder that exists, or make `{p}`; if the run creates it, declare the input with `must_exist: false`",
                        spec.name
                    )))
                }
                v => {
                    out.insert(spec.name.clone(), v);
                }
            },
            (None, None) if spec.required => diags.push(Diagnostic::new(format!("missing required input `{}`", spec.name)).hint(format!(
                "pass it as `--input {}=VALUE`{}",
                spec.name,
                spec.description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
            ))),
            (None, None) => {
                out.insert(spec.name.clone(), Value::Null);
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_converts_to_declared_types() {
        assert_eq!(convert_text(InputType::Integer, "42").unwrap(), json!(42));
        assert_eq!(convert_text(InputType::Number, "2.5").unwrap(), json!(2.5));
        assert_eq!(convert_text(InputType::Boolean, "yes").unwrap(), json!(true));
        assert_eq!(convert_text(InputType::List, "a, b,c").unwrap(), json!(["a", "b", "c"]));
        assert_eq!(convert_text(InputType::List, "['a', 'b']").unwrap(), json!(["a", "b"]));
        assert_eq!(convert_text(InputType::Object, r#"{"k": 1}"#).unwrap(), json!({"k": 1}));
        assert!(convert_text(InputType::Integer, "4.5").is_err());
        assert!(convert_text(InputType::Boolean, "maybe").is_err());
    }

    #[test]
    fn values_of_the_wrong_kind_are_refused() {
        assert!(convert(InputType::Integer, &json!([1])).is_err());
        assert_eq!(convert(InputType::Integer, &json!(3.0)).unwrap(), json!(3));
        assert!(convert(InputType::Boolean, &json!(1)).is_err());
    }

    #[test]
    fn an_output_path_named_so_need_not_exist() {
        let text = "name: r\ninputs:\n  - {name: output_path, type: path, required: true}\n  - {name: out_dir, type: path, required: true}\nsteps: []\n";
        let (r, _) = crate::recipe::parse_str(text, "r.yaml").unwrap();
        assert!(r.inputs.iter().all(|i| !i.must_exist), "0.x recipes declare outputs as required path inputs");
    }

    #[test]
    fn a_path_the_caller_hands_in_must_exist() {
        let text = "name: r\ninputs:\n  - {name: folder, type: path, required: true}\n  - {name: out, type: path, required: true, must_exist: false}\n  - {name: opt, type: path}\nsteps: []\n";
        let (recipe, _) = crate::recipe::parse_str(text, "r.yaml").unwrap();
        let given = |folder: &str| -> IndexMap<String, Value> {
            [("folder", folder), ("out", "/nowhere/made-by-the-run"), ("opt", "/nowhere/either")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect()
        };
        let diags = bind(&recipe, &given("/no/such/folder")).unwrap_err();
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].message, "input `folder`: `/no/such/folder` does not exist");
        assert!(diags[0].hint.as_deref().unwrap().contains("must_exist: false"));
        let here = std::env::temp_dir();
        assert!(bind(&recipe, &given(here.to_str().unwrap())).is_ok());
    }

    #[test]
    fn a_default_that_must_exist_is_checked_as_a_given_path_is() {
        let text = "name: r\ninputs:\n  - {name: keep, type: path, default: /no/such/keep, must_exist: true}\n  - {name: made, type: path, default: /no/such/made}\nsteps: []\n";
        let (recipe, _) = crate::recipe::parse_str(text, "r.yaml").unwrap();
        let diags = bind(&recipe, &IndexMap::new()).unwrap_err();
        let shown: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(shown, ["input `keep`: its default `/no/such/keep` does not exist"], "a default without `must_exist` is not checked");
        let given: IndexMap<String, Value> = [("keep".to_string(), json!(std::env::temp_dir()))].into_iter().collect();
        assert!(bind(&recipe, &given).is_ok(), "given, the default is not read");
    }
}
