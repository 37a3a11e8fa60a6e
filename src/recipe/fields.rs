//! Reading typed fields out of YAML nodes, collecting every problem found.

use crate::diag::{did_you_mean, list_names, Diagnostic};
use crate::yaml::{Node, NodeValue};

/// Collects diagnostics for one file while it is read.
pub struct Reader<'a> {
    pub file: &'a str,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a str) -> Self {
        Reader { file, diags: Vec::new() }
    }

    pub fn error(&mut self, node: &Node, message: impl Into<String>, hint: Option<String>) {
        self.diags.push(Diagnostic::new(message).in_file(self.file).at(node.line, node.col).maybe_hint(hint));
    }

    /// Report keys of `map` that are not in `allowed`, with a suggestion.
    pub fn check_keys(&mut self, map: &Node, allowed: &[crate::key::Key], what: &str) {
        for (k, message, hint) in unknown_keys(map, allowed, what) {
            self.error(k, message, Some(hint));
        }
    }

    /// A mapping node, or an error saying what was found instead.
    pub fn expect_map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n Node> {
        if node.as_map().is_some() {
            Some(node)
        } else {
            self.error(node, format!("{what} must be a mapping, found {}", node.kind()), None);
            None
        }
    }

    pub fn expect_seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match node.as_seq() {
            Some(items) => Some(items),
            None => {
                self.error(
                    node,
                    format!("{what} must be a list, found {}", node.kind()),
                    Some(format!("write {what} as a YAML list: one `- ` item per line")),
                );
                None
            }
        }
    }

    /// Text field; numbers and booleans are accepted as their text (e.g. `version: 1.0`).
    pub fn text(&mut self, map: &Node, key: &str, what: &str, required: bool) -> Option<String> {
        let Some(node) = map.get(key) else {
            if required {
                self.error(map, format!("{what} is missing required key `{key}`"), None);
            }
            return None;
        };
        match &node.value {
            NodeValue::Str(s) => Some(s.clone()),
            NodeValue::Int(_) | NodeValue::Float(_) | NodeValue::Bool(_) => Some(node.key_text()),
            NodeValue::Null if !required => None,
            _ => {
                self.error(node, format!("`{key}` in {what} must be text, found {}", node.kind()), None);
                None
            }
        }
    }

    pub fn boolean(&mut self, map: &Node, key: &str, what: &str) -> Option<bool> {
        let node = map.get(key)?;
        match &node.value {
            NodeValue::Bool(b) => Some(*b),
            NodeValue::Null => None,
            NodeValue::Str(s) => match s.to_ascii_lowercase().as_str() {
                "yes" | "on" | "true" => Some(true),
                "no" | "off" | "false" => Some(false),
                _ => {
                    self.error(node, format!("`{key}` in {what} must be true or false, found `{s}`"), None);
                    None
                }
            },
            _ => {
                self.error(node, format!("`{key}` in {what} must be true or false, found {}", node.kind()), None);
                None
            }
        }
    }

    /// `resources.gpu`: true/false (also yes/no/on/off), or the card a step must run on —
    /// its index (`0` is the first card, not false) or its UUID — as `(gpu, card)`.
    pub fn gpu_card(&mut self, map: &Node, key: &str, what: &str) -> (Option<bool>, Option<String>) {
        let Some(node) = map.get(key) else { return (None, None) };
        match &node.value {
            NodeValue::Int(i) if *i >= 0 => (Some(true), Some(i.to_string())),
            NodeValue::Str(s)
                if !s.trim().is_empty()
                    && !matches!(s.trim().to_ascii_lowercase().as_str(), "yes" | "on" | "true" | "no" | "off" | "false") =>
            {
                (Some(true), Some(s.trim().to_string()))
            }
            NodeValue::Bool(_) | NodeValue::Str(_) | NodeValue::Null => (self.boolean(map, key, what), None),
            _ => {
                let message = format!("`{key}` in {what} must be true, false, a card's index or its UUID, found {}", shown(node));
                self.error(node, message, Some("`gpu: 1` runs it on the second card; `system` lists them".into()));
                (None, None)
            }
        }
    }

    /// A number from `min` to `max`.
    pub fn number(&mut self, map: &Node, key: &str, what: &str, min: f64, max: f64) -> Option<f64> {
        self.bounded(map, key, what, max, |v| v >= min, &format!("a number from {min} to {max}"))
    }

    /// A whole number from 0 to `max` (`1e3` counts as 1000).
    pub fn count(&mut self, map: &Node, key: &str, what: &str, max: u32) -> Option<u32> {
        let whole = |v: f64| v >= 0.0 && v.fract() == 0.0;
        self.bounded(map, key, what, f64::from(max), whole, &format!("a whole number from 0 to {max}")).map(|v| v as u32)
    }

    /// The number at `key` (text that reads as one counts) if `fits` and not above `max`;
    /// otherwise an error that says which: too large, or not `expected` at all.
    fn bounded(&mut self, map: &Node, key: &str, what: &str, max: f64, fits: impl Fn(f64) -> bool, expected: &str) -> Option<f64> {
        let node = map.get(key)?;
        let value = match &node.value {
            NodeValue::Int(i) => Some(*i as f64),
            NodeValue::Float(f) if f.is_finite() => Some(*f),
            NodeValue::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            NodeValue::Null => return None,
            _ => None,
        };
        match value {
            Some(v) if fits(v) && v <= max => Some(v),
            Some(v) if v > max => {
                let message = format!("`{key}` in {what} is {}, more than the most allowed ({max})", shown(node));
                self.error(node, message, Some(limit_hint(key)));
                None
            }
            _ => {
                self.error(node, format!("`{key}` in {what} must be {expected}, found {}", shown(node)), None);
                None
            }
        }
    }

    /// A list of texts; a single text is taken as a list of one.
    pub fn text_list(&mut self, map: &Node, key: &str, what: &str) -> Option<Vec<String>> {
        let node = map.get(key)?;
        match &node.value {
            NodeValue::Null => Some(Vec::new()),
            NodeValue::Str(s) => Some(vec![s.clone()]),
            NodeValue::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => self.error(item, format!("`{key}` in {what} must list texts, found {}", item.kind()), None),
                    }
                }
                Some(out)
            }
            _ => {
                self.error(node, format!("`{key}` in {what} must be a list of texts, found {}", node.kind()), None);
                None
            }
        }
    }
}

/// A node shown in a message: its text for scalars, its kind otherwise.
pub fn shown(node: &Node) -> String {
    match &node.value {
        NodeValue::Str(s) => format!("`{s}`"),
        NodeValue::Int(_) | NodeValue::Float(_) | NodeValue::Bool(_) => format!("`{}`", node.key_text()),
        _ => node.kind().to_string(),
    }
}

/// The keys of `map` that are not in `allowed` (recipes' and YAML tools' parsers alike):
/// each key's node, the message, and a hint (the key meant, or those there are).
pub fn unknown_keys<'n>(map: &'n Node, allowed: &[crate::key::Key], what: &str) -> Vec<(&'n Node, String, String)> {
    let mut out = Vec::new();
    for (k, v) in map.as_map().unwrap_or_default() {
        let key = k.key_text();
        if !crate::key::allows(allowed, &key) {
            let names = crate::key::names(allowed);
            let hint = did_you_mean(&key, names.iter().copied())
                .or_else(|| comma_split(&key, v))
                .unwrap_or_else(|| format!("{what} keys are {}", list_names(&names)));
            out.push((k, format!("unknown key `{key}` in {what}"), hint));
        }
    }
    out
}

/// A key with no value and spaces in it is most often the tail of a value cut
/// at a comma inside `{ ... }`: say so.
fn comma_split(key: &str, value: &Node) -> Option<String> {
    (value.is_null() && key.contains(' '))
        .then(|| format!("inside `{{ ... }}` a comma ends a value, so `{key}` was read as a key: put the whole value in quotes"))
}

/// What to do instead of a huge retry count, delay or timeout.
fn limit_hint(key: &str) -> String {
    match key {
        "retry_count" => "a step that fails this often will not pass by retrying; fix it, or use `on_failure: skip`".into(),
        "timeout" | "timeout_minutes" => "leave the limit out to wait as long as it takes".into(),
        _ => format!("use a smaller `{key}`"),
    }
}
