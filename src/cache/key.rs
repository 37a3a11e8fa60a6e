//! The cache key of a step attempt (docs/cache.md): everything that decides what the step
//! produces, hashed. Paths inside the run folder are written `{run_dir}/...` first, so the
//! same step of another run has the same key; every existing file or folder the inputs name
//! counts by its content (not its modification time).

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// Bumped when what goes into a key changes: every older entry stops matching.
const KEY_FORMAT: u32 = 1;
/// Most files a folder named by an input may hold before the step is not cached.
const MAX_FILES_PER_FOLDER: usize = 10_000;

/// What a key is made of, kept beside the entry for `cache stats` and debugging.
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
    pub known: Option<&'a std::collections::HashMap<String, String>>,
}

/// The key, or why the step cannot be cached (an input file that cannot be read, a folder too big).
pub fn key(parts: &KeyParts<'_>) -> Result<String, String> {
    key_and_files(parts).map(|(k, _)| k)
}

/// The key, and the content hash of every existing path the inputs name (by the path as
/// written): storing compares them again to tell what the step changed from what it read.
pub fn key_and_files(parts: &KeyParts<'_>) -> Result<(String, std::collections::HashMap<String, String>), String> {
    let run_dir = parts.run_dir.to_string_lossy();
    let mut files = Map::new();
    let mut seen = std::collections::HashMap::new();
    let mut paths = Vec::new();
    strings(&Value::Object(parts.inputs.clone()), &mut paths);
    for p in paths {
        let p = p.trim().to_string();
        let path = Path::new(&p);
        if !path.is_absolute() || files.contains_key(&normalize_str(&p, &run_dir)) {
            continue;
        }
        let normalized = normalize_str(&p, &run_dir);
        if let Some(hash) = content_hash(path)? {
            seen.insert(p.clone(), hash.clone());
            files.insert(normalized, Value::String(hash));
        } else if let Some(hash) = parts.known.and_then(|k| k.get(&normalized)) {
            files.insert(normalized, Value::String(hash.clone()));
        }
    }
    let doc = json!({
        "format": KEY_FORMAT,
        "tool": parts.tool,
        "action": parts.action,
        "tool_version": parts.fingerprint,
        "inputs": normalize(&Value::Object(parts.inputs.clone()), &run_dir),
        "files": files,
        "identity": parts.identity,
    });
    Ok((hex(&Sha256::digest(doc.to_string().as_bytes())), seen))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// `v` with `{run_dir}` written as this run's folder.
pub fn localize(v: &Value, run_dir: &str) -> Value {
    map_strings(v, &|s| s.replace("{run_dir}", run_dir))
}

fn normalize_str(s: &str, run_dir: &str) -> String {
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

/// sha256 of a file's bytes, or of a folder's sorted (relative path, file hash) list;
/// `None` when nothing is there.
pub fn content_hash(path: &Path) -> Result<Option<String>, String> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(None) };
    if meta.is_file() {
        return file_hash(path).map(Some).map_err(|e| format!("cannot read {}: {e}", path.display()));
    }
    if !meta.is_dir() {
        return Ok(None);
    }
    let mut entries = Vec::new();
    walk(path, path, &mut entries)?;
    entries.sort();
    let mut h = Sha256::new();
    for (rel, hash) in &entries {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(hash.as_bytes());
        h.update([0]);
    }
    Ok(Some(format!("dir:{}", hex(&h.finalize()))))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in read.flatten() {
        let p = entry.path();
        let ty = entry.file_type().map_err(|e| e.to_string())?;
        if ty.is_dir() {
            walk(root, &p, out)?;
        } else if ty.is_file() || (ty.is_symlink() && p.is_file()) {
            if out.len() >= MAX_FILES_PER_FOLDER {
                return Err(format!("{} holds more than {MAX_FILES_PER_FOLDER} files", root.display()));
            }
            let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().to_string();
            out.push((rel, file_hash(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?));
        }
    }
    Ok(())
}

pub fn file_hash(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}
