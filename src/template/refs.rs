//! Static scan of a template: its syntax, and the dotted names it reads.

use super::env::env;
use super::syntax::{has_template, single_expression, RenderError};

/// A dotted name a template reads, like `steps.fetch.outputs.path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub path: String,
    /// The template guards its names (`| default(...)`, `is defined`), so a
    /// missing name is not an error before the run.
    pub guarded: bool,
}

impl Reference {
    /// The first part of the path (`steps`, `inputs`, ...).
    pub fn root(&self) -> &str {
        self.path.split('.').next().unwrap_or("")
    }

    /// The `n`th part of the path, if present.
    pub fn part(&self, n: usize) -> Option<&str> {
        self.path.split('.').nth(n)
    }
}

/// The names `text` reads, or its syntax error.
pub fn references(text: &str) -> Result<Vec<Reference>, RenderError> {
    if !has_template(text) {
        return Ok(Vec::new());
    }
    if let Some(parts) = super::simple::parse(text) {
        let mut refs: Vec<Reference> = parts
            .iter()
            .filter_map(|p| match p {
                super::simple::Part::Name(n) => Some(Reference { path: n.to_string(), guarded: false }),
                super::simple::Part::Text(_) => None,
            })
            .collect();
        refs.sort_by(|a, b| a.path.cmp(&b.path));
        refs.dedup();
        return Ok(refs);
    }
    let guarded = text.contains("default") || text.contains("defined");
    let vars = match single_expression(text) {
        Some(expr) => env().compile_expression_owned(expr.to_string()).map_err(|e| syntax(text, &e))?.undeclared_variables(true),
        None => env().template_from_str(text).map_err(|e| syntax(text, &e))?.undeclared_variables(true),
    };
    let mut refs: Vec<Reference> = vars.into_iter().map(|path| Reference { path, guarded }).collect();
    refs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(refs)
}

/// Filters and tests `text` uses that the environment does not have, as
/// `("filter" | "test", name)`. Read from the compiled instructions (minijinja's
/// `unstable_machinery`, pinned to 3.1 in Cargo.toml): minijinja only notices an
/// unknown filter when it renders, and a recipe's templates must fail validation.
pub fn unknown_filters(text: &str) -> Vec<(&'static str, String)> {
    use minijinja::machinery::{get_compiled_template, Instruction};
    if !has_template(text) || super::simple::parse(text).is_some() {
        return Vec::new();
    }
    let Ok(tmpl) = env().template_from_str(text) else { return Vec::new() };
    let compiled = get_compiled_template(&tmpl);
    let mut out = Vec::new();
    for instructions in std::iter::once(&compiled.instructions).chain(compiled.blocks.values()) {
        let mut i = 0;
        while let Some(instr) = instructions.get(i) {
            let found = match instr {
                Instruction::ApplyFilter(name, ..) if !known("filter", name) => Some(("filter", name.to_string())),
                Instruction::PerformTest(name, ..) if !known("test", name) => Some(("test", name.to_string())),
                _ => None,
            };
            if let Some(f) = found.filter(|f| !out.contains(f)) {
                out.push(f);
            }
            i += 1;
        }
    }
    out
}

/// Whether the environment has a filter or test by that name: rendering it on nothing
/// fails with "unknown filter/test" only when it has none (answers are cached).
fn known(kind: &'static str, name: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static SEEN: Mutex<Option<HashMap<(&'static str, String), bool>>> = Mutex::new(None);
    let key = (kind, name.to_string());
    if let Some(&k) = SEEN.lock().expect("filter cache").get_or_insert_with(HashMap::new).get(&key) {
        return k;
    }
    let probe = if kind == "filter" { format!("{{{{ none | {name} }}}}") } else { format!("{{{{ none is {name} }}}}") };
    let unknown = match env().render_str(&probe, ()) {
        Err(e) => matches!(e.kind(), minijinja::ErrorKind::UnknownFilter | minijinja::ErrorKind::UnknownTest),
        Ok(_) => false,
    };
    SEEN.lock().expect("filter cache").get_or_insert_with(HashMap::new).insert(key, !unknown);
    !unknown
}

/// Filter names the environment has, for "did you mean" hints.
pub const COMMON_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "basename",
    "stem",
    "dirname",
    "suffix",
    "abspath",
    "shell_quote",
    "lines",
    "bool",
];

fn syntax(text: &str, e: &minijinja::Error) -> RenderError {
    RenderError { template: text.to_string(), message: detail(e) }
}

fn detail(e: &minijinja::Error) -> String {
    match (e.detail(), e.line()) {
        (Some(d), Some(l)) if l > 1 => format!("{d} (template line {l})"),
        (Some(d), _) => d.to_string(),
        (None, _) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_names() {
        let r = references("{{ steps.a.outputs.path }} and {{ inputs.x | upper }}").unwrap();
        let paths: Vec<_> = r.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["inputs.x", "steps.a.outputs.path"]);
        assert!(!r[0].guarded);
    }

    #[test]
    fn unknown_filters_and_tests_are_found_before_rendering() {
        assert_eq!(unknown_filters("{{ inputs.x | shout }}"), [("filter", "shout".to_string())]);
        assert_eq!(unknown_filters("{% for f in xs | sort %}{{ f | basename | loud }}{% endfor %}"), [("filter", "loud".to_string())]);
        assert_eq!(unknown_filters("{% if x is evenish %}y{% endif %}"), [("test", "evenish".to_string())]);
        assert!(unknown_filters("{{ x | upper | default('a') | basename }}{% if y is defined %}{% endif %}").is_empty());
        assert!(unknown_filters("plain {{ steps.a.outputs.x }}").is_empty());
    }

    #[test]
    fn default_guards() {
        let r = references("{{ inputs.x | default('y') }}").unwrap();
        assert!(r[0].guarded);
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(references("{{ steps.a. }}").is_err());
        assert!(references("{% if x %}no end").is_err());
    }

    #[test]
    fn plain_text_has_no_references() {
        assert!(references("hello").unwrap().is_empty());
    }
}
