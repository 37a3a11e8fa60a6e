//! YAML text to a tree of nodes that remember their line and column.
//!
//! saphyr-parser gives us spanned events; we build the tree ourselves because
//! we need three things no maintained YAML tree loader gives together: the
//! position of every node (for "file:line:col" errors), a budget on alias
//! expansion (an alias bomb must fail fast, not eat the machine), and
//! duplicate mapping keys reported as errors instead of silently overwritten.

use crate::diag::Diagnostic;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// Most nodes `*alias` copies may add to a document (its own nodes do not count: they are
/// bounded by the text itself). `LOCALFORGE_MAX_ALIAS_NODES` raises it.
const ALIAS_BUDGET: usize = 200_000;
const ALIAS_BUDGET_VAR: &str = "LOCALFORGE_MAX_ALIAS_NODES";

fn alias_budget() -> usize {
    std::env::var(ALIAS_BUDGET_VAR).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(ALIAS_BUDGET)
}
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML value with its 1-based line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub line: usize,
    pub col: usize,
    /// Nodes in this subtree, itself included (for the alias budget).
    size: usize,
}

impl Node {
    pub fn new(value: NodeValue, line: usize, col: usize) -> Self {
        let size = 1 + match &value {
            NodeValue::Seq(items) => items.iter().map(|n| n.size).fold(0usize, usize::saturating_add),
            NodeValue::Map(pairs) => pairs.iter().map(|(k, v)| k.size.saturating_add(v.size)).fold(0usize, usize::saturating_add),
            _ => 0,
        };
        Node { value, line, col, size }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// Value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// A short name of the node's kind, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "nothing (null)",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "text",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    /// The node as a JSON value (keys become text).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            NodeValue::Null => J::Null,
            NodeValue::Bool(b) => J::Bool(*b),
            NodeValue::Int(i) => J::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            NodeValue::Str(s) => J::String(s.clone()),
            NodeValue::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(pairs) => J::Object(pairs.iter().map(|(k, v)| (k.key_text(), v.to_json())).collect()),
        }
    }

    /// A mapping key as text (`1` and `true` keys become "1" and "true").
    pub fn key_text(&self) -> String {
        match &self.value {
            NodeValue::Str(s) => s.clone(),
            NodeValue::Null => "null".into(),
            NodeValue::Bool(b) => b.to_string(),
            NodeValue::Int(i) => i.to_string(),
            NodeValue::Float(f) => f.to_string(),
            NodeValue::Seq(_) | NodeValue::Map(_) => self.to_json().to_string(),
        }
    }
}

/// Where every node of `node` starts, keyed by its JSON Pointer (RFC 6901; `""` is the
/// root), in document order: how front ends that check a YAML document against a JSON
/// Schema name the line of each problem.
pub fn positions(node: &Node) -> Vec<(String, usize, usize)> {
    fn walk(node: &Node, pointer: String, out: &mut Vec<(String, usize, usize)>) {
        out.push((pointer.clone(), node.line, node.col));
        match &node.value {
            NodeValue::Seq(items) => items.iter().enumerate().for_each(|(i, n)| walk(n, format!("{pointer}/{i}"), out)),
            NodeValue::Map(pairs) => {
                for (k, v) in pairs {
                    let at = format!("{pointer}/{}", k.key_text().replace('~', "~0").replace('/', "~1"));
                    // The key's own place too (a problem with a key points at it), before its value's.
                    out.push((at.clone(), k.line, k.col));
                    walk(v, at, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(node, String::new(), &mut out);
    out
}

/// The JSON Pointer of the node a problem at `line`:`col` is about: the node (or mapping
/// key) starting exactly there — a mapping and its first key start at the same place: the
/// key when the message names it (`` `tol` ``), else the mapping — otherwise the last one
/// starting before it.
pub fn pointer_at(positions: &[(String, usize, usize)], line: usize, col: usize, message: &str) -> Option<String> {
    let exact: Vec<&String> = positions.iter().filter(|(_, l, c)| (*l, *c) == (line, col)).map(|(p, _, _)| p).collect();
    let named = |p: &String| p.rsplit('/').next().is_some_and(|seg| !seg.is_empty() && message.contains(&format!("`{seg}`")));
    if let Some(p) = exact.iter().copied().find(|p| named(p)).or(exact.first().copied()) {
        return Some(p.clone());
    }
    positions.iter().filter(|(_, l, c)| (*l, *c) <= (line, col)).max_by_key(|(_, l, c)| (*l, *c)).map(|(p, _, _)| p.clone())
}

/// Parse one YAML document. `Ok(None)` for a file with no document (empty or only comments).
pub fn parse(text: &str) -> Result<Option<Node>, Diagnostic> {
    let mut builder = Builder { budget: alias_budget(), ..Builder::default() };
    let mut docs = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) =
            item.map_err(|e| Diagnostic::new(format!("YAML syntax error: {}", e.info())).at(e.marker().line(), e.marker().col() + 1))?;
        if let Event::DocumentStart(_) = event {
            docs += 1;
            if docs > 1 {
                return Err(Diagnostic::new("the file holds more than one YAML document")
                    .at(span.start.line(), span.start.col() + 1)
                    .hint("a recipe is a single YAML mapping; remove the second `---` document"));
            }
        }
        builder.event(event, span)?;
    }
    Ok(builder.root)
}

enum Open {
    Seq { items: Vec<Node>, anchor: usize, line: usize, col: usize },
    Map { pairs: Vec<(Node, Node)>, key: Option<Node>, anchor: usize, line: usize, col: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    /// Nodes alias copies have added so far, and the most they may add.
    expanded: usize,
    budget: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        let (line, col) = (span.start.line(), span.start.col() + 1);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value =
                    if style == ScalarStyle::Plain && !is_str_tag { resolve_plain(&text) } else { NodeValue::Str(text.into_owned()) };
                self.finish(Node::new(value, line, col), anchor)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.depth_check(line, col)?;
                self.stack.push(Open::Seq { items: Vec::new(), anchor, line, col });
            }
            Event::MappingStart(anchor, _) => {
                self.depth_check(line, col)?;
                self.stack.push(Open::Map { pairs: Vec::new(), key: None, anchor, line, col });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Seq { items, anchor, line, col }) => (Node::new(NodeValue::Seq(items), line, col), anchor),
                    Some(Open::Map { pairs, anchor, line, col, .. }) => (Node::new(NodeValue::Map(merge_keys(pairs)?), line, col), anchor),
                    None => return Ok(()),
                };
                self.finish(node.0, node.1)?;
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).ok_or_else(|| Diagnostic::new("alias refers to an unknown anchor").at(line, col))?;
                self.expanded = self.expanded.saturating_add(node.size);
                if self.expanded > self.budget {
                    return Err(alias_bomb(line, col, self.budget));
                }
                let mut copy = node.clone();
                copy.line = line;
                copy.col = col;
                self.place(copy)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn depth_check(&self, line: usize, col: usize) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::new(format!("YAML nested deeper than {MAX_DEPTH} levels")).at(line, col));
        }
        Ok(())
    }

    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.place(node)
    }

    fn place(&mut self, node: Node) -> Result<(), Diagnostic> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { pairs, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let Some((prev, _)) = pairs.iter().find(|(p, _)| p.value == k.value) {
                        return Err(Diagnostic::new(format!("duplicate key `{}` (first defined on line {})", k.key_text(), prev.line))
                            .at(k.line, k.col)
                            .hint("each key may appear once in a mapping; remove or rename one"));
                    }
                    pairs.push((k, node));
                }
            },
        }
        Ok(())
    }
}

/// YAML merge keys (`<<: *defaults`, or `<<: [*a, *b]`), as 0.x's loader resolved them:
/// the merged mappings' entries are added where the mapping does not set the key itself
/// (its own keys win; among several merged mappings, the first wins). Merged entries
/// keep their positions, so an error in them points at the anchored mapping.
fn merge_keys(pairs: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, Diagnostic> {
    if !pairs.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return Ok(pairs);
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(k, _)| k.as_str() == Some("<<"));
    let not_a_mapping = |n: &Node| {
        Diagnostic::new(format!("`<<` (a merge key) takes a mapping or a list of mappings, found {}", n.kind()))
            .at(n.line, n.col)
            .hint("write `<<: *name` where `&name` marks a mapping, or `<<: [*a, *b]`")
    };
    for (_, value) in merges {
        let sources: Vec<Node> = match value.value {
            NodeValue::Map(_) => vec![value],
            NodeValue::Seq(items) => items,
            _ => return Err(not_a_mapping(&value)),
        };
        for source in sources {
            let NodeValue::Map(entries) = source.value else { return Err(not_a_mapping(&source)) };
            for (k, v) in entries {
                if !own.iter().any(|(o, _)| o.value == k.value) {
                    own.push((k, v));
                }
            }
        }
    }
    Ok(own)
}

fn alias_bomb(line: usize, col: usize, budget: usize) -> Diagnostic {
    Diagnostic::new(format!("YAML aliases expand to more than {budget} nodes (alias bomb?); the limit counts what `*alias` copies add"))
        .at(line, col)
        .hint(format!("recipes do not need deeply nested anchors and aliases: write the values out, or raise {ALIAS_BUDGET_VAR}"))
}

/// YAML 1.2 core schema for unquoted scalars.
fn resolve_plain(s: &str) -> NodeValue {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "true" | "True" | "TRUE" => return NodeValue::Bool(true),
        "false" | "False" | "FALSE" => return NodeValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return NodeValue::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeValue::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return NodeValue::Int(i);
        }
    }
    if let Some(oct) = s.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return NodeValue::Int(i);
        }
    }
    let numeric = s.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if numeric && s.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return NodeValue::Int(i);
        }
        if let Ok(f) = s.parse::<f64>() {
            return NodeValue::Float(f);
        }
    }
    NodeValue::Str(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_json_pointers_with_lines() {
        let n = parse("id: x\nrequires:\n  binaries: [git, a/b]\n").unwrap().unwrap();
        let p = positions(&n);
        assert_eq!(p[0], (String::new(), 1, 1));
        assert!(p.contains(&("/requires/binaries/1".into(), 3, 19)), "{p:?}");
        let n = parse("'a/b': {'~c': 1}\n").unwrap().unwrap();
        assert!(positions(&n).iter().any(|(p, _, _)| p == "/a~1b/~0c"));
        // A problem at a key, or inside a scalar, points at that node.
        let n = parse("steps:\n  - id: a\n    tol: x\n").unwrap().unwrap();
        let p = positions(&n);
        assert_eq!(pointer_at(&p, 3, 5, "unknown key `tol`").as_deref(), Some("/steps/0/tol"), "{p:?}");
        assert_eq!(pointer_at(&p, 2, 11, "x").as_deref(), Some("/steps/0/id"));
        assert_eq!(pointer_at(&p, 2, 5, "step `a` is missing required key `tool`").as_deref(), Some("/steps/0"), "the mapping");
        assert_eq!(pointer_at(&p, 2, 5, "unknown key `id`").as_deref(), Some("/steps/0/id"), "its first key");
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let n = parse("a: 1\nb: 2.5\nc: true\nd: ~\ne: '1'\nf: yes\ng: 1e3\n").unwrap().unwrap();
        assert_eq!(n.get("a").unwrap().value, NodeValue::Int(1));
        assert_eq!(n.get("b").unwrap().value, NodeValue::Float(2.5));
        assert_eq!(n.get("c").unwrap().value, NodeValue::Bool(true));
        assert!(n.get("d").unwrap().is_null());
        assert_eq!(n.get("e").unwrap().as_str(), Some("1"));
        assert_eq!(n.get("f").unwrap().as_str(), Some("yes"));
        assert_eq!(n.get("g").unwrap().value, NodeValue::Float(1000.0));
    }

    #[test]
    fn nodes_know_their_position() {
        let n = parse("name: x\nsteps:\n  - id: a\n").unwrap().unwrap();
        let step = &n.get("steps").unwrap().as_seq().unwrap()[0];
        assert_eq!((step.line, step.col), (3, 5));
        assert_eq!(step.get("id").unwrap().line, 3);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("duplicate key `a` (first defined on line 1)"), "{}", e.message);
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let start = std::time::Instant::now();
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("alias bomb"), "{}", e.message);
        assert!(start.elapsed().as_secs() < 2);
    }

    #[test]
    fn a_large_honest_document_is_not_an_alias_bomb() {
        // 300,000 nodes of its own, no alias: the alias budget does not apply.
        let text: String = (0..100_000).map(|i| format!("- {{id: s{i}, n: {i}}}\n")).collect();
        let n = parse(&text).unwrap().unwrap();
        assert!(matches!(&n.value, NodeValue::Seq(items) if items.len() == 100_000));
    }

    #[test]
    fn merge_keys_add_what_the_mapping_does_not_set() {
        let text = "defaults: &d {tool: script, action: run, timeout: 5}\nmore: &m {retry_count: 2, timeout: 9}\nstep:\n  <<: [*d, *m]\n  id: a\n  timeout: 7\n";
        let n = parse(text).unwrap().unwrap();
        let step = n.get("step").unwrap();
        let keys: Vec<String> = step.as_map().unwrap().iter().map(|(k, _)| k.key_text()).collect();
        assert_eq!(keys, ["id", "timeout", "tool", "action", "retry_count"]);
        assert_eq!(step.get("timeout").unwrap().value, NodeValue::Int(7), "the mapping's own key wins");
        assert_eq!(step.get("tool").unwrap().line, 1, "merged entries keep their place");
        let e = parse("step:\n  <<: 3\n  id: a\n").unwrap_err();
        assert!(e.message.contains("`<<` (a merge key) takes a mapping"), "{}", e.message);
    }

    #[test]
    fn small_aliases_still_work() {
        let n = parse("base: &b {x: 1}\nother: *b\n").unwrap().unwrap();
        assert_eq!(n.get("other").unwrap().get("x").unwrap().value, NodeValue::Int(1));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.message.starts_with("YAML syntax error"));
        assert!(e.line.is_some());
    }

    #[test]
    fn empty_text_has_no_document() {
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }
}
