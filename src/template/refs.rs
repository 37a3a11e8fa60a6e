//! Static scan of a template: its syntax, and the dotted names it reads.

use super::env::env;
use super::render::{has_template, single_expression};

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

/// The names `text` reads, or a syntax error message.
pub fn references(text: &str) -> Result<Vec<Reference>, String> {
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
        Some(expr) => env().compile_expression_owned(expr.to_string()).map_err(|e| detail(&e))?.undeclared_variables(true),
        None => env().template_from_str(text).map_err(|e| detail(&e))?.undeclared_variables(true),
    };
    let mut refs: Vec<Reference> = vars.into_iter().map(|path| Reference { path, guarded }).collect();
    refs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(refs)
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
