//! Rendering recipe values: native values for whole-string expressions,
//! text otherwise, and precise errors for names that do not exist.

use super::env::env;
use super::scope::Scope;
use super::syntax::{has_template, single_expression, RenderError};
use crate::diag::list_names;
use minijinja::value::ValueKind;
use minijinja::{ErrorKind, Value};
use serde_json::Value as Json;

thread_local! {
    /// Why the last `templates.X` could not be rendered (read by the undefined-name diagnosis).
    pub(super) static TEMPLATE_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Render every string inside `value`, recursing into lists and mappings.
pub fn render_value(value: &Json, scope: &Scope) -> Result<Json, RenderError> {
    match value {
        Json::String(s) => render_str(s, scope),
        Json::Array(items) => items.iter().map(|v| render_value(v, scope)).collect::<Result<_, _>>().map(Json::Array),
        Json::Object(map) => render_map(map, scope).map(Json::Object),
        other => Ok(other.clone()),
    }
}

/// Render every value of a mapping.
pub fn render_map(map: &serde_json::Map<String, Json>, scope: &Scope) -> Result<serde_json::Map<String, Json>, RenderError> {
    let mut out = serde_json::Map::with_capacity(map.len());
    for (k, v) in map {
        out.insert(k.clone(), render_value(v, scope)?);
    }
    Ok(out)
}

/// Render one string: a whole-string expression keeps its value's type.
pub fn render_str(s: &str, scope: &Scope) -> Result<Json, RenderError> {
    if !has_template(s) {
        return Ok(Json::String(s.to_string()));
    }
    let root = scope.value();
    if let Some(parts) = super::simple::parse(s) {
        let fast = match parts.as_slice() {
            [super::simple::Part::Name(n)] => super::simple::lookup(&root, n).and_then(|v| serde_json::to_value(&v).ok()),
            _ => super::simple::render(&parts, &root).map(Json::String),
        };
        if let Some(v) = fast {
            return Ok(v);
        }
    }
    if let Some(expr) = single_expression(s) {
        let compiled = env().compile_expression_owned(expr.to_string()).map_err(|e| syntax_error(s, &e))?;
        let value = compiled.eval(root.clone()).map_err(|e| runtime_error(s, &e, &root))?;
        if value.is_undefined() {
            return Err(undefined_error(s, &root));
        }
        return to_json(s, &value);
    }
    env().render_str(s, root.clone()).map(Json::String).map_err(|e| runtime_error(s, &e, &root))
}

/// Render to text (for messages, paths and conditions that must be text).
pub fn render_text(s: &str, scope: &Scope) -> Result<String, RenderError> {
    Ok(match render_str(s, scope)? {
        Json::String(t) => t,
        Json::Null => String::new(),
        other => other.to_string(),
    })
}

/// The words a condition's text is false as (and YAML's own false words: `when: off`).
pub const FALSE_WORDS: &[&str] = &["", "false", "0", "no", "off", "none", "null"];
/// The words a `when` may be written as without a template (`recipe::step`).
pub const CONSTANT_WORDS: &[&str] = &["", "false", "0", "no", "off", "none", "null", "true", "1", "yes", "on"];

/// Truthiness of a `when:` condition, Jinja rules (empty text, 0, "false" are false).
pub fn render_condition(s: &str, scope: &Scope) -> Result<bool, RenderError> {
    Ok(match render_str(s, scope)? {
        Json::Bool(b) => b,
        Json::Null => false,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(t) => !FALSE_WORDS.contains(&t.trim().to_ascii_lowercase().as_str()),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    })
}

/// Render a whole document (a seed's Markdown, say) with `context` as its names, in the
/// recipes' environment. Errors carry the line of the document they happened on.
pub fn render_document(text: &str, context: &Json) -> Result<String, crate::diag::Diagnostic> {
    let root = super::env::to_value(context);
    env().render_str(text, root).map_err(|e| {
        let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
        let d = crate::diag::Diagnostic::new(format!("template: {detail}"));
        match e.line() {
            Some(line) => d.at(line, 1),
            None => d,
        }
    })
}

fn to_json(template: &str, value: &Value) -> Result<Json, RenderError> {
    serde_json::to_value(value).map_err(|e| RenderError {
        template: template.to_string(),
        message: format!("`{template}` produced a value that is not data: {e}"),
    })
}

fn syntax_error(template: &str, e: &minijinja::Error) -> RenderError {
    RenderError {
        template: template.to_string(),
        message: format!("template syntax error in `{template}`: {}", e.detail().unwrap_or(&e.to_string())),
    }
}

fn runtime_error(template: &str, e: &minijinja::Error, root: &Value) -> RenderError {
    match e.kind() {
        ErrorKind::UndefinedError => undefined_error(template, root),
        ErrorKind::SyntaxError => syntax_error(template, e),
        ErrorKind::OutOfFuel => RenderError {
            template: template.to_string(),
            message: format!(
                "`{template}` did too much work (more than {} template steps): a loop that runs far too long? Templates fill in values; do heavy work in a step",
                super::env::FUEL
            ),
        },
        _ => RenderError {
            template: template.to_string(),
            message: format!("cannot render `{template}`: {}", e.detail().map(str::to_string).unwrap_or_else(|| e.to_string())),
        },
    }
}

/// Find which dotted name in the template does not exist, and say what does.
fn undefined_error(template: &str, root: &Value) -> RenderError {
    if let Some(inner) = TEMPLATE_ERROR.with(|e| e.borrow_mut().take()) {
        return RenderError { template: template.to_string(), message: inner };
    }
    let paths = super::refs::references(template).unwrap_or_default();
    for path in paths {
        if let Some(message) = explain_missing(&path.path, root) {
            return RenderError { template: template.to_string(), message: format!("{message} (in `{template}`)") };
        }
    }
    RenderError { template: template.to_string(), message: format!("`{template}` uses an undefined value") }
}

/// `None` when every part of `path` resolves; else a message naming the missing part and its siblings.
pub fn explain_missing(path: &str, root: &Value) -> Option<String> {
    let mut current = root.clone();
    let mut walked = String::new();
    for part in path.split('.') {
        let next = current.get_attr(part).ok().filter(|v| !v.is_undefined());
        match next {
            Some(v) => current = v,
            None => {
                let where_ = if walked.is_empty() { "the template's names".to_string() } else { format!("`{walked}`") };
                let full = if walked.is_empty() { part.to_string() } else { format!("{walked}.{part}") };
                let keys = keys_of(&current);
                let known = if walked == "steps" {
                    format!("steps finished so far: {}", list_names(&keys))
                } else if keys.is_empty() && current.kind() != ValueKind::Map {
                    format!("{where_} is {}, not a mapping", describe(&current))
                } else {
                    format!("{where_} has {}", list_names(&keys))
                };
                return Some(format!("`{full}` is undefined; {known}"));
            }
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
    }
    None
}

fn keys_of(v: &Value) -> Vec<String> {
    if v.kind() != ValueKind::Map {
        return Vec::new();
    }
    v.try_iter().map(|it| it.filter_map(|k| k.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

fn describe(v: &Value) -> String {
    match v.kind() {
        ValueKind::String => "text".into(),
        ValueKind::Seq => "a list".into(),
        ValueKind::None => "none".into(),
        k => format!("{k}"),
    }
}
