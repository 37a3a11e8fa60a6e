//! A fast path for the templates most recipes are made of: literal text and
//! `{{ dotted.name }}` substitutions, nothing else.
//!
//! Compiling such a template with minijinja costs more than rendering it
//! (lexer, parser, code generator and an instruction buffer per string, for
//! every step of a long recipe), and rendering is a few attribute lookups.
//! Anything beyond plain names (filters, tests, indexing, statements,
//! whitespace control) goes to minijinja; so does any name that does not
//! resolve, so errors read exactly the same either way. Tests compare both
//! paths on the same inputs.

use minijinja::value::ValueKind;
use minijinja::Value;

pub enum Part<'a> {
    Text(&'a str),
    Name(&'a str),
}

/// The parts of `s`, if it is only text and `{{ dotted.name }}` substitutions.
pub fn parse(s: &str) -> Option<Vec<Part<'_>>> {
    let mut parts = Vec::new();
    let mut rest = s;
    loop {
        let Some(open) = rest.find("{{") else {
            if !rest.is_empty() {
                parts.push(Part::Text(plain_text(rest)?));
            }
            return Some(parts);
        };
        if open > 0 {
            parts.push(Part::Text(plain_text(&rest[..open])?));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        parts.push(Part::Name(dotted_name(&after[..close])?));
        rest = &after[close + 2..];
    }
}

fn plain_text(t: &str) -> Option<&str> {
    (!t.contains("{%") && !t.contains("{#") && !t.contains("}}")).then_some(t)
}

/// `a.b_c.d1` with optional spaces around; `None` for anything else.
fn dotted_name(inner: &str) -> Option<&str> {
    let name = inner.trim_matches(' ');
    let ok = !name.is_empty()
        && name.split('.').all(|seg| {
            let mut chars = seg.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    (ok && !matches!(name, "true" | "false" | "none" | "True" | "False" | "None")).then_some(name)
}

/// The value of a dotted name, or `None` if any part is undefined.
pub fn lookup(root: &Value, name: &str) -> Option<Value> {
    let mut v = root.clone();
    for seg in name.split('.') {
        v = v.get_attr(seg).ok().filter(|x| !x.is_undefined())?;
    }
    Some(v)
}

/// Render the parts as text the way the environment's formatter does, or
/// `None` (let minijinja render it and report the error).
pub fn render(parts: &[Part<'_>], root: &Value) -> Option<String> {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Name(n) => {
                let v = lookup(root, n)?;
                match v.kind() {
                    ValueKind::Seq | ValueKind::Map => out.push_str(&serde_json::to_string(&v).ok()?),
                    ValueKind::None => {}
                    ValueKind::String | ValueKind::Number | ValueKind::Bool => {
                        use std::fmt::Write;
                        write!(out, "{v}").ok()?;
                    }
                    _ => return None,
                }
            }
        }
    }
    Some(out)
}
