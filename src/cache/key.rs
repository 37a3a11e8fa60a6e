//! The cache key of a step attempt (docs/cache.md): everything that decides what the step
//! produces and that LocalForge can see, hashed. Paths inside the run folder are written
//! `{run_dir}/...` first, so the same step of another run has the same key; every existing
//! file or folder the inputs name — a whole value or a word inside text, absolute or
//! relative to the step's working folder — counts by its content (not its modification
//! time). The keys of the steps it comes after (a Merkle chain), the programs it runs and
//! the environment it reads are part of it too.

use super::files::{content_hash_within, program_digest};
use super::in_place::InPlace;
use super::Uncacheable;
use crate::digest::sha256_hex;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use super::files::file_hash;

/// Bumped when what goes into a key changes: every older entry stops matching.
const KEY_FORMAT: u32 = 3;
/// What `key_and_files` says of a path the inputs name that does not exist.
pub const ABSENT: &str = "absent";
/// Longest word of text taken as a possible path.
const MAX_PATH_WORD: usize = 4096;

/// Variables that differ between two shells of the same person on the same machine, and
/// that no tool's result should depend on: left out of a key that holds the environment.
/// Not `COLUMNS` and `LINES`: `ls -C`, argparse's help and `rich` lay out their text by
/// them even when it goes to a pipe (shells seldom export them, so keeping them costs
/// little).
const VOLATILE_ENV: &[&str] = &[
    "_",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "TERM",
    "TERM_PROGRAM",
    "TERM_PROGRAM_VERSION",
    "TERM_SESSION_ID",
    "COLORTERM",
    "LS_COLORS",
    "PS1",
    "PS2",
    "PS4",
    "PROMPT_COMMAND",
    "HISTFILE",
    "HISTSIZE",
    "HISTFILESIZE",
    "HISTCONTROL",
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "SSH_CLIENT",
    "SSH_CONNECTION",
    "SSH_TTY",
    "GPG_TTY",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "WINDOWID",
    "TMUX",
    "TMUX_PANE",
    "STY",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_SESSION_ID",
    "XDG_SESSION_TYPE",
    "XDG_SESSION_CLASS",
    "XDG_VTNR",
    "XDG_SEAT",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "MAIL",
];

/// A variable left out of a key that holds the whole environment (`VOLATILE_ENV`, the
/// terminal programs' own `VSCODE_*`, `ITERM_*`, `KONSOLE_*`, and LocalForge's own
/// `LOCALFORGE_*`, which say where its services and programs are: those are in the key as
/// the model's identity and the programs' content).
pub fn volatile(name: &str) -> bool {
    VOLATILE_ENV.contains(&name) || ["VSCODE_", "ITERM_", "KONSOLE_", "LOCALFORGE_"].iter().any(|p| name.starts_with(p))
}

/// What the call depends on beyond its inputs.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Folders a relative path is read from: the step's working folder first, then
    /// LocalForge's own (a tool started without a folder of its own reads from there).
    pub bases: Vec<PathBuf>,
    /// The programs the call runs, as written (`ffmpeg`, `/usr/bin/sh`): each counts by
    /// the content of the file it resolves to on `PATH`.
    pub programs: Vec<String>,
    /// The environment variables the call reads, with their values (absent ones left out).
    pub env: BTreeMap<String, String>,
    /// `(step, digest)` of every step this one comes after: what they gave is part of the key.
    pub upstream: Vec<(String, String)>,
    /// Inputs that name no files (`Tool::names_no_files`): their words are not looked up as
    /// paths. They are in the key as text like every input.
    pub text_only: Vec<String>,
}

/// What a key is made of.
pub struct KeyParts<'a> {
    pub tool: &'a str,
    pub action: &'a str,
    /// The tool's own version: LocalForge's for native tools, the definition's or plugin
    /// file's hash for YAML tools and Python plugins.
    pub fingerprint: &'a str,
    pub inputs: &'a Map<String, Value>,
    /// What the tool says identifies its model (Ollama's digest, the SD checkpoint's hash).
    pub identity: Option<&'a Value>,
    pub run_dir: &'a Path,
    /// Hashes of files that are not on disk yet but will be (`run --dry-run`: what cache
    /// hits before this step would restore), by path with the run folder as `{run_dir}`.
    pub known: Option<&'a HashMap<String, String>>,
    pub context: &'a Context,
}

/// The key, or why the step cannot be cached (an input file that cannot be read, a folder too big).
pub fn key(parts: &KeyParts<'_>) -> Result<String, Uncacheable> {
    key_and_files(parts).map(|(k, _)| k)
}

/// The key, and the content hash of every existing path the inputs name, by absolute path
/// (`ABSENT` for one outside the run folder that does not exist): after the step they are
/// compared again, to tell what it changed from what it read.
pub fn key_and_files(parts: &KeyParts<'_>) -> Result<(String, HashMap<String, String>), Uncacheable> {
    key_and_files_within(parts, &InPlace::unbounded())
}

/// `key_and_files` within `bound` (`cache::in_place`): `Uncacheable::Deferred` when it
/// would look up more paths or read more bytes than the bound leaves, or expand a
/// pattern, hash a folder or find a program.
pub fn key_and_files_within(parts: &KeyParts<'_>, bound: &InPlace) -> Result<(String, HashMap<String, String>), Uncacheable> {
    let run_dir = parts.run_dir.to_string_lossy();
    let mut files = BTreeMap::new();
    let mut read = HashMap::new();
    // The engine's logs of each step's program are not something a step reads.
    let logs = parts.run_dir.join("logs");
    if !parts.context.programs.is_empty() {
        bound.unsized_work()?;
    }
    // The run folder is written `{run_dir}` in a key: an input that says so already would
    // have the key of one naming the run folder.
    if super::relocate::holds_placeholder(parts.inputs) {
        return Err(Uncacheable::Placeholder("inputs"));
    }
    let named = named_paths(parts.inputs, &parts.context.text_only, &parts.context.bases, Some(&parts.context.env), bound)?;
    bound.paths(named.len())?;
    for (word, path) in named {
        let normalized = normalize_str(&path.to_string_lossy(), &run_dir);
        let label = format!("{}\u{0}{normalized}", normalize_str(&word, &run_dir));
        if files.contains_key(&label) {
            continue;
        }
        let abs = path.to_string_lossy().to_string();
        let hash = match read.get(&abs) {
            Some(h) => Some(String::clone(h)),
            None => content_hash_within(&path, Some(&logs), bound)?,
        };
        if let Some(hash) = hash {
            read.insert(abs, hash.clone());
            files.insert(label, hash);
        } else if let Some(hash) = parts.known.and_then(|k| k.get(&normalized)) {
            files.insert(label, hash.clone());
        } else if !path.starts_with(parts.run_dir) && word.contains(['/', '.']) {
            // Not there outside the run folder: if the step makes it, a hit could not.
            read.insert(abs, ABSENT.into());
        }
    }
    let path_var = parts.context.env.get("PATH").map(std::ffi::OsString::from).or_else(|| std::env::var_os("PATH")).unwrap_or_default();
    let programs: BTreeMap<&str, String> =
        parts.context.programs.iter().map(|p| (p.as_str(), program_digest(p, &path_var).unwrap_or_else(|| "absent".into()))).collect();
    let mut upstream = parts.context.upstream.clone();
    upstream.sort();
    let doc = json!({
        "format": KEY_FORMAT,
        "tool": parts.tool,
        "action": parts.action,
        "tool_version": parts.fingerprint,
        "inputs": normalize_map(parts.inputs, &run_dir),
        "files": files,
        "identity": parts.identity,
        "programs": programs,
        "env": parts.context.env,
        "upstream": upstream,
        // What a hit's files and outputs hold of the run folder comes back as this run's
        // folder (`cache::relocate`): a length beside it (a size, an offset) holds only if
        // the two folders' paths are as long.
        "run_dir_bytes": run_dir.len(),
    });
    Ok((sha256_hex(doc.to_string().as_bytes()), read))
}

/// What a finished step hands to the keys of the steps after it: its own key (when it has
/// one), its outputs and the digests of the steps before it.
pub fn digest(key: Option<&str>, outputs: &Map<String, Value>, run_dir: &Path, upstream: &[(String, String)]) -> String {
    let mut upstream = upstream.to_vec();
    upstream.sort();
    let doc = json!({"key": key, "outputs": normalize_map(outputs, &run_dir.to_string_lossy()), "upstream": upstream});
    sha256_hex(doc.to_string().as_bytes())
}

/// Every path the inputs (but those in `text_only`) may name, as `(word as written, path)`: each string whole, each
/// word of text (split at spaces, quotes, `=`, `:`, `,`, `;`, redirections and brackets,
/// and as a shell splits it, so a quoted path with spaces is one word), absolute, or
/// relative to each of `bases`. With `env` (a key's), words are also read as a shell would
/// expand them: `~/` from `env`'s `HOME` (else LocalForge's), and a pattern (`*`, `?`) with
/// a `/` or `.` in it names every path it matches. (Not `$NAME/...`: a file named through a
/// variable is one a step may well write, a log or a counter, and would keep it out of the
/// cache.) Only paths that exist count for the key; `Err` when a pattern matches too many,
/// or when there is one to expand within a `bound`.
pub fn named_paths(
    inputs: &Map<String, Value>,
    text_only: &[String],
    bases: &[PathBuf],
    env: Option<&BTreeMap<String, String>>,
    bound: &InPlace,
) -> Result<Vec<(String, PathBuf)>, Uncacheable> {
    let mut texts = Vec::new();
    inputs.iter().filter(|(name, _)| !text_only.contains(name)).for_each(|(_, v)| strings(v, &mut texts));
    let mut words: Vec<String> = Vec::new();
    for text in &texts {
        let whole = text.trim();
        words.push(whole.to_string());
        if whole.contains(is_separator) {
            words.extend(whole.split(is_separator).filter(|w| !w.is_empty()).map(str::to_string));
            // As a shell reads it: a quoted path with spaces is one word (`cat "/a b/c.txt"`).
            for w in shlex::split(whole).unwrap_or_default() {
                words.extend(w.split_once('=').map(|(_, v)| v.to_string()));
                words.push(w);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for w in words {
        if w.is_empty() || w.len() > MAX_PATH_WORD || w.contains('\0') || !seen.insert(w.clone()) {
            continue;
        }
        let mut forms = vec![w.clone()];
        if let Some(env) = env {
            let var = |name: &str| env.get(name).cloned().or_else(|| std::env::var(name).ok());
            if let (Some(rest), Some(home)) = (w.strip_prefix("~/"), var("HOME")) {
                forms.push(format!("{home}/{rest}"));
            }
        }
        for f in forms {
            let p = Path::new(&f);
            let here: Vec<PathBuf> = if p.is_absolute() {
                vec![p.to_path_buf()]
            } else if matches!(f.as_str(), "." | "..") {
                // `.` and `..` are folders one rarely means (`find .`): a word naming a file is what counts.
                Vec::new()
            } else {
                bases.iter().map(|b| b.join(p)).collect()
            };
            for path in here {
                let text = path.to_string_lossy();
                let pattern = env.is_some() && text.contains(['*', '?']) && f.contains(['/', '.']);
                if pattern && text.contains("**") {
                    // Any depth of folders, through linked ones (the glob crate keeps no
                    // account of folders met): too much to list for a key.
                    return Err(Uncacheable::Pattern { pattern: text.to_string(), error: "`**` reaches any depth of folders".into() });
                }
                if pattern {
                    bound.unsized_work()?;
                    out.extend(matches(&text)?.into_iter().map(|m| (w.clone(), m)));
                }
                out.push((w.clone(), path));
            }
        }
    }
    Ok(out)
}

/// Most paths one pattern in a text may match before the step is not cached.
const MAX_MATCHES: usize = 1000;

/// What a pattern matches (one without `**`); a pattern the `glob` crate cannot read means
/// the step is not cached, as its files cannot be listed.
fn matches(pattern: &str) -> Result<Vec<PathBuf>, Uncacheable> {
    let found = glob::glob(pattern).map_err(|e| Uncacheable::Pattern { pattern: pattern.to_string(), error: e.msg.to_string() })?;
    let mut out = Vec::new();
    for m in found.flatten() {
        if out.len() == MAX_MATCHES {
            return Err(Uncacheable::TooManyMatches { pattern: pattern.to_string(), limit: MAX_MATCHES });
        }
        out.push(m);
    }
    Ok(out)
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '=' | ':' | ',' | ';' | '|' | '&' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}')
}

/// Every string in a value (map keys left out).
pub fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// `v` with the run folder written `{run_dir}`.
pub fn normalize(v: &Value, run_dir: &str) -> Value {
    map_strings(v, &|s| normalize_str(s, run_dir))
}

/// `normalize` of a map of values, without copying it into a `Value` first.
fn normalize_map(m: &Map<String, Value>, run_dir: &str) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), normalize(v, run_dir))).collect())
}

/// `v` with `{run_dir}` written as this run's folder.
pub fn localize(v: &Value, run_dir: &str) -> Value {
    map_strings(v, &|s| s.replace("{run_dir}", run_dir))
}

pub fn normalize_str(s: &str, run_dir: &str) -> String {
    if run_dir.is_empty() {
        s.to_string()
    } else {
        s.replace(run_dir, "{run_dir}")
    }
}

fn map_strings(v: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| map_strings(x, f)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), map_strings(x, f))).collect()),
        other => other.clone(),
    }
}
