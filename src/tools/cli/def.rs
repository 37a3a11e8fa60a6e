//! A YAML tool definition: any command-line program as a LocalForge tool.

use crate::diag::{did_you_mean, Diagnostic};
use crate::recipe::InputType;
use crate::tools::sandbox::Confinement;
use crate::yaml::{self, Node, NodeValue};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::Path;

use super::keys;

#[derive(Debug, Clone)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub file: String,
    pub binary: Option<String>,
    pub install_hint: Option<String>,
    pub min_vram_gb: Option<f64>,
    pub env: IndexMap<String, String>,
    pub actions: IndexMap<String, ActionDef>,
    /// `deterministic: true`: the same inputs and files give the same outputs (the step cache serves it).
    pub deterministic: bool,
    /// `sandbox: true` or `required`, or installed from a registry (`load_dirs`): run under Landlock.
    pub sandbox: Confinement,
    /// `network: true`: a confined program may use TCP.
    pub network: bool,
    /// SHA-256 of the definition's text: the tool's version in cache keys.
    pub hash: String,
}

#[derive(Debug, Clone)]
pub enum Command {
    /// Words, each rendered on its own (a string command is split like a shell would, first).
    Argv(Vec<String>),
    /// `shell: true`: one text for `sh -c`, every value quoted.
    Shell(String),
}

#[derive(Debug, Clone)]
pub struct ActionDef {
    pub description: String,
    pub command: Command,
    pub inputs: IndexMap<String, InputDef>,
    /// name -> (template, is a path that must exist afterwards)
    pub outputs: IndexMap<String, (String, bool)>,
    pub parse: Option<String>,
    pub timeout: Option<f64>,
    pub cwd: Option<String>,
    pub env: IndexMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct InputDef {
    pub ty: InputType,
    pub required: bool,
    pub default: Option<Value>,
    pub choices: Option<Vec<Value>>,
    pub description: Option<String>,
    /// A path the command writes: it need not exist beforehand.
    pub output: bool,
}

struct Reader<'a> {
    file: &'a str,
    diags: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn err(&mut self, n: &Node, msg: String, hint: Option<String>) {
        self.diags.push(Diagnostic::new(msg).in_file(self.file).at(n.line, n.col).maybe_hint(hint));
    }

    fn keys(&mut self, n: &Node, allowed: &[crate::key::Key], what: &str) {
        for (k, message, hint) in crate::recipe::unknown_keys(n, allowed, what) {
            self.err(k, message, Some(hint));
        }
    }

    fn text(&mut self, n: &Node, key: &str, what: &str, required: bool) -> Option<String> {
        match n.get(key) {
            Some(v) => match &v.value {
                NodeValue::Str(s) => Some(s.clone()),
                NodeValue::Int(_) | NodeValue::Float(_) | NodeValue::Bool(_) => Some(v.key_text()),
                _ => {
                    self.err(v, format!("`{key}` in {what} must be text, found {}", v.kind()), None);
                    None
                }
            },
            None if required => {
                self.err(n, format!("{what} is missing required key `{key}`"), None);
                None
            }
            None => None,
        }
    }

    fn env(&mut self, n: &Node, what: &str) -> IndexMap<String, String> {
        let Some(e) = n.get("env") else { return IndexMap::new() };
        let Some(map) = e.as_map() else {
            self.err(e, format!("`env` in {what} must be a mapping of NAME: value"), None);
            return IndexMap::new();
        };
        map.iter().map(|(k, v)| (k.key_text(), v.key_text())).collect()
    }
}

/// Read a definition file; every problem at once, each with file, line and field.
///
/// What a file's text parsed to is kept (its last text per file, in this process): the same
/// text is not parsed again. A Ray worker builds the registry for every call it runs, and
/// parsing the YAML tools was ~330 µs of a trivial call's ~430. Kept by the whole text, not
/// the file's times: an edit within the clock's tick is seen.
pub fn load(path: &Path) -> Result<ToolDef, Vec<Diagnostic>> {
    type Parsed = Result<ToolDef, Vec<Diagnostic>>;
    static SEEN: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, (String, Parsed)>>> =
        std::sync::LazyLock::new(Default::default);
    let file = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![Diagnostic::new(format!("cannot read tool definition: {e}")).in_file(&file)])?;
    if let Some((seen, parsed)) = SEEN.lock().unwrap_or_else(|e| e.into_inner()).get(&file) {
        if *seen == text {
            return parsed.clone();
        }
    }
    let parsed = parse(&text, &file);
    SEEN.lock().unwrap_or_else(|e| e.into_inner()).insert(file, (text, parsed.clone()));
    parsed
}

pub fn parse(text: &str, file: &str) -> Result<ToolDef, Vec<Diagnostic>> {
    let root = match yaml::parse(text) {
        Err(d) => return Err(vec![d.in_file(file)]),
        Ok(None) => return Err(vec![Diagnostic::new("the tool definition is empty").in_file(file)]),
        Ok(Some(r)) if r.as_map().is_none() => {
            return Err(vec![Diagnostic::new("a tool definition must be a mapping").in_file(file).at(r.line, r.col)])
        }
        Ok(Some(r)) => r,
    };
    let mut r = Reader { file, diags: Vec::new() };
    r.keys(&root, keys::TOP, "the tool definition");
    let name = r.text(&root, "name", "the tool definition", true).unwrap_or_default();
    if let Some(t) = r.text(&root, "type", "the tool definition", false).filter(|t| t != "cli") {
        let node = root.get("type").unwrap_or(&root).clone();
        r.err(&node, format!("tool type `{t}` is not supported"), Some("YAML tools are `type: cli`".into()));
    }
    let (mut binary, mut install_hint, mut min_vram_gb) = (None, None, None);
    if let Some(req) = root.get("requirements") {
        r.keys(req, keys::REQUIREMENTS, "`requirements`");
        binary = r.text(req, "binary", "`requirements`", false);
        install_hint = r.text(req, "install_hint", "`requirements`", false);
        min_vram_gb = req.get("min_vram_gb").and_then(|n| match n.value {
            NodeValue::Int(i) => Some(i as f64),
            NodeValue::Float(f) => Some(f),
            _ => None,
        });
    }
    let env = r.env(&root, "the tool definition");
    let mut actions = IndexMap::new();
    match root.get("actions").and_then(|a| a.as_map().map(|m| (a, m))) {
        Some((_, map)) => {
            for (k, node) in map {
                let aname = k.key_text();
                if let Some(a) = action(&mut r, node, &format!("action `{aname}`")) {
                    actions.insert(aname, a);
                }
            }
        }
        None => {
            let at = root.get("actions").unwrap_or(&root).clone();
            r.err(&at, "the tool definition needs `actions`: a mapping of action name to its command".into(), None);
        }
    }
    if let Some(ex) = root.get("example") {
        example(&mut r, ex, &actions);
    }
    let sandbox = root.get("sandbox").map_or(Some(Confinement::Off), |n| Confinement::parse(&n.to_json())).unwrap_or_else(|| {
        let at = root.get("sandbox").unwrap_or(&root).clone();
        r.err(&at, "`sandbox` is `true` (confined where the kernel can), `required` (confined or refused) or `false`".into(), None);
        Confinement::Off
    });
    if !r.diags.is_empty() {
        return Err(r.diags);
    }
    let description = root.get("description").map(Node::key_text).unwrap_or_default();
    let deterministic = matches!(root.get("deterministic").map(|n| &n.value), Some(NodeValue::Bool(true)));
    let network = matches!(root.get("network").map(|n| &n.value), Some(NodeValue::Bool(true)));
    let hash = crate::digest::sha256_hex(text.as_bytes());
    Ok(ToolDef {
        name,
        description,
        file: file.to_string(),
        binary,
        install_hint,
        min_vram_gb,
        env,
        actions,
        deterministic,
        sandbox,
        network,
        hash,
    })
}

/// `example`: one call of an action, with the files it reads written first, and what it
/// must produce; `tools publish` and the registry's CI run it against the real program.
fn example(r: &mut Reader<'_>, ex: &Node, actions: &IndexMap<String, ActionDef>) {
    if ex.as_map().is_none() {
        r.err(ex, "`example` must be a mapping with `action`, `inputs`, `files` and `expect`".into(), None);
        return;
    }
    r.keys(ex, keys::EXAMPLE, "`example`");
    match r.text(ex, "action", "`example`", true) {
        Some(a) if !actions.contains_key(&a) => {
            let at = ex.get("action").unwrap_or(ex).clone();
            r.err(
                &at,
                format!("`example` calls action `{a}`, which the definition does not have"),
                did_you_mean(&a, actions.keys().map(String::as_str)),
            );
        }
        _ => {}
    }
    for key in ["inputs", "files"] {
        if let Some(n) = ex.get(key).filter(|n| n.as_map().is_none()) {
            r.err(n, format!("`example.{key}` must be a mapping"), None);
        }
    }
    if let Some(files) = ex.get("files").and_then(Node::as_map) {
        for (k, v) in files {
            let name = k.key_text();
            if name.is_empty() || name.starts_with('/') || name.split('/').any(|p| p == ".." || p.is_empty()) {
                r.err(k, format!("`example.files` name `{name}` must be a relative path inside the example's folder"), None);
            }
            if v.as_str().is_none() {
                r.err(v, format!("`example.files.{name}` must be text (or `base64:` followed by the bytes in base64)"), None);
            }
        }
    }
    if let Some(expect) = ex.get("expect") {
        if expect.as_map().is_none() {
            r.err(expect, "`example.expect` must be a mapping with `files` and/or `outputs`".into(), None);
        } else {
            r.keys(expect, keys::EXPECT, "`example.expect`");
        }
    }
}

fn action(r: &mut Reader<'_>, node: &Node, what: &str) -> Option<ActionDef> {
    if node.as_map().is_none() {
        r.err(node, format!("{what} must be a mapping with `command`"), None);
        return None;
    }
    r.keys(node, keys::ACTION, what);
    let shell = matches!(node.get("shell").map(|n| &n.value), Some(NodeValue::Bool(true)));
    let command = match node.get("command") {
        Some(n @ Node { value: NodeValue::Str(s), .. }) if shell => match placeholder_in_quotes(s) {
            // Every value is shell-quoted already: inside quotes of its own, a value like
            // `x" ; touch y ; "` or `$(...)` would break out and run.
            Some((placeholder, quote)) => {
                let quotes = if quote == '\'' { "single" } else { "double" };
                r.err(
                    n,
                    format!("`command` of {what}: `{placeholder}` sits inside {quotes} quotes, where a value could break out of them"),
                    Some(format!("remove the quotes around `{placeholder}`: with `shell: true` every value is quoted already")),
                );
                None
            }
            None => Some(Command::Shell(s.clone())),
        },
        Some(n @ Node { value: NodeValue::Str(s), .. }) => match split_words(s) {
            Some(words) if !words.is_empty() => Some(Command::Argv(words)),
            _ => {
                r.err(n, format!("`command` of {what} cannot be split into words (unbalanced quotes?)"), None);
                None
            }
        },
        Some(n @ Node { value: NodeValue::Seq(items), .. }) if !shell => {
            if items.is_empty() {
                r.err(n, format!("`command` of {what} is empty"), None);
                None
            } else {
                Some(Command::Argv(items.iter().map(Node::key_text).collect()))
            }
        }
        Some(n) => {
            r.err(
                n,
                format!("`command` of {what} must be text or a list of words{}", if shell { " (text with `shell: true`)" } else { "" }),
                None,
            );
            None
        }
        None => {
            r.err(node, format!("{what} is missing required key `command`"), None);
            None
        }
    };
    let mut inputs = IndexMap::new();
    for (k, spec) in node.get("inputs").and_then(Node::as_map).unwrap_or_default() {
        let iname = k.key_text();
        let w = format!("input `{iname}` of {what}");
        if spec.as_map().is_none() {
            r.err(spec, format!("{w} must be a mapping (type, required, default...)"), None);
            continue;
        }
        r.keys(spec, keys::INPUT, &w);
        let ty_text = r.text(spec, "type", &w, false).unwrap_or_else(|| "string".into());
        let Some(ty) = InputType::parse(&ty_text) else {
            let at = spec.get("type").unwrap_or(spec).clone();
            r.err(&at, format!("unknown type `{ty_text}` for {w}"), did_you_mean(&ty_text, InputType::NAMES.iter().copied()));
            continue;
        };
        let flag = |k: &str| matches!(spec.get(k).map(|n| &n.value), Some(NodeValue::Bool(true)));
        inputs.insert(
            iname,
            InputDef {
                ty,
                required: flag("required"),
                default: spec.get("default").filter(|d| !d.is_null()).map(Node::to_json),
                choices: spec.get("choices").and_then(Node::as_seq).map(|c| c.iter().map(Node::to_json).collect()),
                description: spec.get("description").map(Node::key_text),
                output: flag("output"),
            },
        );
    }
    let mut outputs = IndexMap::new();
    for (k, v) in node.get("outputs").and_then(Node::as_map).unwrap_or_default() {
        match &v.value {
            NodeValue::Str(s) => {
                outputs.insert(k.key_text(), (s.clone(), false));
            }
            NodeValue::Map(_) => match v.get("path").and_then(Node::as_str) {
                Some(p) => {
                    outputs.insert(k.key_text(), (p.to_string(), true));
                }
                None => r.err(v, format!("output `{}` of {what}: a mapping output needs `path`", k.key_text()), None),
            },
            _ => r.err(v, format!("output `{}` of {what} must be a template, or {{path: template}} for a file", k.key_text()), None),
        }
    }
    check_placeholders(r, node, what, &inputs);
    let parse = r.text(node, "parse", what, false);
    if let Some(p) = parse.as_deref().filter(|p| !matches!(*p, "json" | "lines")) {
        let at = node.get("parse").unwrap_or(node).clone();
        r.err(&at, format!("`parse` of {what} is `{p}`; use `json` or `lines`"), None);
    }
    Some(ActionDef {
        description: node.get("description").map(Node::key_text).unwrap_or_default(),
        command: command?,
        inputs,
        outputs,
        parse,
        timeout: node.get("timeout").and_then(|t| match t.value {
            NodeValue::Int(i) => Some(i as f64),
            NodeValue::Float(f) => Some(f),
            _ => None,
        }),
        cwd: node.get("cwd").map(Node::key_text),
        env: r.env(node, what),
    })
}

/// Every placeholder of an action names something it has: one of its inputs (`{{ file }}`
/// or, as the roadmap's format writes it, `{{ inputs.file }}`), `temp_dir` or `run_dir`;
/// its filters exist. Checked when the definition loads, so a typo is a load error with
/// its line, never a failure halfway through a run.
fn check_placeholders(r: &mut Reader<'_>, node: &Node, what: &str, inputs: &IndexMap<String, InputDef>) {
    let mut sites: Vec<(&Node, String)> = Vec::new();
    if let Some(c) = node.get("command") {
        match &c.value {
            NodeValue::Seq(items) => sites.extend(items.iter().map(|i| (i, "`command`".to_string()))),
            _ => sites.push((c, "`command`".into())),
        }
    }
    for key in ["cwd"] {
        if let Some(n) = node.get(key) {
            sites.push((n, format!("`{key}`")));
        }
    }
    for (k, v) in node.get("env").and_then(Node::as_map).unwrap_or_default() {
        sites.push((v, format!("`env.{}`", k.key_text())));
    }
    for (k, v) in node.get("outputs").and_then(Node::as_map).unwrap_or_default() {
        sites.push((v.get("path").unwrap_or(v), format!("output `{}`", k.key_text())));
    }
    for (k, spec) in node.get("inputs").and_then(Node::as_map).unwrap_or_default() {
        if let Some(d) = spec.get("default") {
            sites.push((d, format!("the default of input `{}`", k.key_text())));
        }
    }
    let names: Vec<&str> = inputs.keys().map(String::as_str).chain(["temp_dir", "run_dir"]).collect();
    for (n, place) in sites {
        let Some(text) = n.as_str() else { continue };
        let refs = match crate::template::references(text) {
            Ok(refs) => refs,
            Err(e) => {
                r.err(n, format!("{place} of {what}: template syntax error: {e}"), None);
                continue;
            }
        };
        for reference in refs {
            let name = match reference.root() {
                "inputs" => reference.part(1).unwrap_or(""),
                root => root,
            };
            let known = if reference.root() == "inputs" { inputs.contains_key(name) } else { names.contains(&name) };
            if !known {
                let hint =
                    did_you_mean(name, names.iter().copied()).unwrap_or_else(|| format!("it can use {}", crate::diag::list_names(&names)));
                r.err(n, format!("{place} of {what} reads `{}`, which is not one of its inputs", reference.path), Some(hint));
            }
        }
        for (kind, name) in crate::template::refs::unknown_filters(text) {
            r.err(n, format!("{place} of {what}: unknown template {kind} `{name}`"), None);
        }
    }
}

/// The first `{{ … }}` / `{% … %}` of a shell command that sits inside shell quotes,
/// with the quote character. Template text itself may hold quotes; it is skipped whole.
fn placeholder_in_quotes(cmd: &str) -> Option<(String, char)> {
    let chars: Vec<char> = cmd.chars().collect();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' && matches!(chars.get(i + 1), Some('{') | Some('%')) {
            let close = if chars[i + 1] == '{' { '}' } else { '%' };
            let end =
                (i + 2..chars.len().saturating_sub(1)).find(|&j| chars[j] == close && chars[j + 1] == '}').map_or(chars.len(), |j| j + 2);
            if let Some(q) = quote {
                return Some((chars[i..end].iter().collect(), q));
            }
            i = end;
            continue;
        }
        match (quote, c) {
            (None, '\\') | (Some('"'), '\\') => i += 1, // the next character is escaped
            (None, '\'') | (None, '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Split a command line into words like a shell would, keeping each
/// `{{ ... }}` whole (its spaces do not split it).
fn split_words(s: &str) -> Option<Vec<String>> {
    let mut protected = String::with_capacity(s.len());
    let mut blocks = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        let close = rest[open..].find("}}")? + open + 2;
        protected.push_str(&rest[..open]);
        protected.push_str(&format!("\u{1}{}\u{1}", blocks.len()));
        blocks.push(&rest[open..close]);
        rest = &rest[close..];
    }
    protected.push_str(rest);
    let words = shlex::split(&protected)?;
    Some(
        words
            .into_iter()
            .map(|w| {
                let mut out = w;
                for (i, b) in blocks.iter().enumerate() {
                    out = out.replace(&format!("\u{1}{i}\u{1}"), b);
                }
                out
            })
            .collect(),
    )
}
