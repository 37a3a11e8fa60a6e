//! `file_ops`: copy, move, delete, mkdir, copy_multiple, list, read, write.

use super::{need_str, opt_bool, opt_f64, opt_str, JsonMap, Tool, ToolCtx, ToolError, ToolKind};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

pub struct FileOps;

const ACTIONS: &[&str] = &["copy", "move", "delete", "mkdir", "copy_multiple", "list", "read", "write"];

#[async_trait::async_trait]
impl Tool for FileOps {
    fn name(&self) -> &str {
        "file_ops"
    }
    fn actions(&self) -> Vec<String> {
        ACTIONS.iter().map(|s| s.to_string()).collect()
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    fn description(&self) -> String {
        "Copy, move, delete, list, read and write files".into()
    }
    /// Not `move` and `delete`, which also take away what they are given.
    fn writes_only_outputs(&self, action: &str) -> bool {
        matches!(action, "write" | "copy" | "copy_multiple" | "mkdir" | "read" | "list")
    }
    /// What `write` writes is text, however much it looks like a path (a chain's `content:
    /// "prev={{steps.a.outputs.path}}"`); the file it writes counts by its `path`.
    fn names_no_files(&self, action: &str, input: &str) -> bool {
        action == "write" && matches!(input, "content" | "encoding")
    }
    /// `write`'s file is its `content`, as UTF-8 or ASCII (the same bytes): its outputs'
    /// `bytes` and `size` are that file's length, which the key's run folder length keeps.
    fn relocatable(&self, action: &str, inputs: &JsonMap) -> bool {
        action == "write" && encoding(inputs, "").is_ok_and(|e| e == "utf-8" || e == "ascii")
    }
    /// Copies only. `move` and `delete` change what they are given; `write`, `mkdir`, `read`
    /// and `list` cost less than a cache lookup and restore (measured on a 1000-step chain of
    /// `write`s: 0.08 s run, 0.33 s cached cold, 0.2 s served warm), so caching them would
    /// only slow recipes down. A step's own `cache: true` still caches any of them.
    fn deterministic(&self, action: &str, _inputs: &JsonMap) -> bool {
        matches!(action, "copy" | "copy_multiple")
    }

    fn inputs(&self, action: &str) -> Option<super::ActionInputs> {
        use crate::recipe::InputType::{Boolean as B, Integer as I, List as L, Path as P, String as S};
        let rows: &[(&str, crate::recipe::InputType, bool, &str)] = match action {
            "copy" | "move" => {
                &[("source", P, true, "The file or folder to copy."), ("destination", P, true, "Where to; its folder is made.")]
            }
            "delete" => &[("path", P, true, "The file or folder to delete.")],
            "mkdir" => &[("path", P, true, "The folder to make (with its parents).")],
            "copy_multiple" => &[
                ("copies", L, false, "A list of {source, destination} pairs."),
                ("sources", L, false, "Files to copy into `destination`."),
                ("destination", P, false, "The folder `sources` are copied into."),
            ],
            "list" => &[
                ("path", P, false, "The folder to list (default: the current one)."),
                ("pattern", S, false, "A glob, e.g. `*.png` or `**/*.txt`."),
            ],
            "read" => &[
                ("path", P, true, "The file to read."),
                ("encoding", S, false, "`utf-8` (default), `latin-1` or `ascii`."),
                ("max_bytes", I, false, "Read at most this many bytes."),
                ("max_chars", I, false, "Keep at most this many characters."),
            ],
            "write" => &[
                ("path", P, true, "The file to write; its folder is made."),
                ("content", S, false, "What to write (a value that is not text is written as JSON; none: an empty file)."),
                ("append", B, false, "Add to the end instead of replacing."),
                ("encoding", S, false, "`utf-8` (default), `latin-1` or `ascii`."),
            ],
            _ => return None,
        };
        let mut inputs = super::ActionInputs::of(rows, false);
        for i in inputs.inputs.iter_mut().filter(|i| action == "write" && i.name == "content") {
            i.any = true;
        }
        Some(inputs)
    }

    async fn call(&self, action: &str, inputs: JsonMap, _ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let what = format!("file_ops.{action}");
        let value = match action {
            "write" => write(&inputs, &what)?,
            "read" => read(&inputs, &what)?,
            "copy" => {
                let (src, dst) = (need_str(&inputs, "source", &what)?, need_str(&inputs, "destination", &what)?);
                let dst = copy_file(Path::new(src), Path::new(dst), &what)?;
                json!({"source": src, "destination": dst})
            }
            "move" => {
                let (src, dst) = (need_str(&inputs, "source", &what)?, need_str(&inputs, "destination", &what)?);
                let dst = move_path(Path::new(src), Path::new(dst), &what)?;
                json!({"source": src, "destination": dst})
            }
            "delete" => {
                let path = need_str(&inputs, "path", &what)?;
                let p = Path::new(path);
                let existed = p.symlink_metadata().is_ok();
                let r = if p.is_dir() && !p.is_symlink() {
                    fs::remove_dir_all(p)
                } else if existed {
                    fs::remove_file(p)
                } else {
                    Ok(())
                };
                r.map_err(|e| io(&what, path, e))?;
                json!({"deleted": path, "existed": existed})
            }
            "mkdir" => {
                let path = need_str(&inputs, "path", &what)?;
                fs::create_dir_all(path).map_err(|e| io(&what, path, e))?;
                json!({"created": path, "path": path})
            }
            "copy_multiple" => copy_multiple(&inputs, &what)?,
            "list" => list(&inputs, &what)?,
            other => return Err(ToolError::failed(format!("file_ops has no action `{other}`; actions: {}", ACTIONS.join(", ")))),
        };
        Ok(super::outputs(value))
    }
}

fn io(what: &str, path: impl AsRef<Path>, e: std::io::Error) -> ToolError {
    ToolError::failed(format!("{what}: `{}`: {e}", path.as_ref().display()))
}

fn ensure_parent(path: &Path, what: &str) -> Result<(), ToolError> {
    match path.parent() {
        // A stat is cheaper than the failing mkdir that create_dir_all tries first.
        Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => fs::create_dir_all(parent).map_err(|e| io(what, parent, e)),
        _ => Ok(()),
    }
}

fn write(inputs: &JsonMap, what: &str) -> Result<Value, ToolError> {
    let path = need_str(inputs, "path", what)?;
    let content = match inputs.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let p = Path::new(path);
    ensure_parent(p, what)?;
    let bytes = encode(&content, inputs, what)?;
    if opt_bool(inputs, "append").unwrap_or(false) {
        use std::io::Write;
        let mut f = fs::OpenOptions::new().create(true).append(true).open(p).map_err(|e| io(what, p, e))?;
        f.write_all(&bytes).map_err(|e| io(what, p, e))?;
    } else {
        fs::write(p, &bytes).map_err(|e| io(what, p, e))?;
    }
    // `size`: what 0.x called it.
    Ok(json!({"path": path, "bytes": bytes.len(), "size": bytes.len()}))
}

/// The text encodings `encoding` may name (0.x passed it to Python's `open`): UTF-8 (the
/// default; bad bytes become U+FFFD), Latin-1 (every byte is a character) and ASCII.
fn encoding(inputs: &JsonMap, what: &str) -> Result<&'static str, ToolError> {
    let name = opt_str(inputs, "encoding").unwrap_or_default().to_ascii_lowercase().replace(['-', '_'], "");
    match name.as_str() {
        "" | "utf8" => Ok("utf-8"),
        "latin1" | "iso88591" | "l1" => Ok("latin-1"),
        "ascii" | "usascii" => Ok("ascii"),
        other => Err(ToolError::failed(format!("{what}: encoding `{other}` is not supported; use utf-8, latin-1 or ascii"))),
    }
}

fn decode(bytes: &[u8], inputs: &JsonMap, what: &str) -> Result<String, ToolError> {
    Ok(match encoding(inputs, what)? {
        "latin-1" => bytes.iter().map(|&b| b as char).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    })
}

fn encode(text: &str, inputs: &JsonMap, what: &str) -> Result<Vec<u8>, ToolError> {
    let limit = match encoding(inputs, what)? {
        "latin-1" => 0xFF,
        "ascii" => 0x7F,
        _ => return Ok(text.as_bytes().to_vec()),
    };
    text.chars()
        .map(|c| u8::try_from(c as u32).ok().filter(|b| u32::from(*b) <= limit))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| ToolError::failed(format!("{what}: the content has characters the chosen encoding cannot hold")))
}

fn read(inputs: &JsonMap, what: &str) -> Result<Value, ToolError> {
    let path = need_str(inputs, "path", what)?;
    // `max_chars`: 0.x's name for the limit.
    let max = opt_f64(inputs, "max_bytes").or_else(|| opt_f64(inputs, "max_chars")).unwrap_or(100_000.0).max(0.0) as usize;
    let bytes = fs::read(path).map_err(|e| io(what, path, e))?;
    let size = bytes.len();
    let mut text = decode(&bytes, inputs, what)?;
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok(json!({"content": text, "path": path, "size": size, "truncated": size > max}))
}

/// Copy a file; a destination that is an existing folder receives the file by name.
fn copy_file(src: &Path, dst: &Path, what: &str) -> Result<String, ToolError> {
    if src.is_dir() {
        return Err(ToolError::failed(format!("{what}: `{}` is a folder; copy files, or `move` the folder", src.display())));
    }
    let dst = into_dir(src, dst);
    ensure_parent(&dst, what)?;
    fs::copy(src, &dst).map_err(|e| io(what, src, e))?;
    Ok(dst.to_string_lossy().into_owned())
}

fn into_dir(src: &Path, dst: &Path) -> PathBuf {
    match (dst.is_dir(), src.file_name()) {
        (true, Some(name)) => dst.join(name),
        _ => dst.to_path_buf(),
    }
}

fn move_path(src: &Path, dst: &Path, what: &str) -> Result<String, ToolError> {
    if src.symlink_metadata().is_err() {
        return Err(ToolError::failed(format!("{what}: `{}` does not exist", src.display())));
    }
    let dst = into_dir(src, dst);
    ensure_parent(&dst, what)?;
    if fs::rename(src, &dst).is_err() {
        // Across file systems: copy, then remove the source.
        if src.is_dir() {
            return Err(ToolError::failed(format!("{what}: cannot move folder `{}` across file systems", src.display())));
        }
        fs::copy(src, &dst).map_err(|e| io(what, src, e))?;
        fs::remove_file(src).map_err(|e| io(what, src, e))?;
    }
    Ok(dst.to_string_lossy().into_owned())
}

/// `copies: [{source, destination}]`, or `sources: [...]` with a `destination` folder.
fn copy_multiple(inputs: &JsonMap, what: &str) -> Result<Value, ToolError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    match inputs.get("copies") {
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let get = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
                match (get("source"), get("destination")) {
                    (Some(s), Some(d)) => pairs.push((s, d)),
                    _ => return Err(ToolError::failed(format!("{what}: item {i} of `copies` needs `source` and `destination`"))),
                }
            }
        }
        Some(other) => return Err(ToolError::failed(format!("{what}: `copies` must be a list, got {other}"))),
        None => {
            let dest = need_str(inputs, "destination", what)?;
            let sources = match inputs.get("sources") {
                Some(Value::Array(a)) => {
                    a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect::<Vec<_>>()
                }
                Some(other) => return Err(ToolError::failed(format!("{what}: `sources` must be a list, got {other}"))),
                None => {
                    return Err(ToolError::failed(format!(
                        "{what} needs `copies` (a list of source/destination) or `sources` with `destination`"
                    )))
                }
            };
            fs::create_dir_all(dest).map_err(|e| io(what, dest, e))?;
            pairs.extend(sources.into_iter().map(|s| (s, dest.to_string())));
        }
    }
    let mut copies = Vec::with_capacity(pairs.len());
    for (s, d) in &pairs {
        let dst = copy_file(Path::new(s), Path::new(d), what)?;
        copies.push(json!({"source": s, "destination": dst}));
    }
    Ok(json!({"count": copies.len(), "copies": copies}))
}

fn list(inputs: &JsonMap, what: &str) -> Result<Value, ToolError> {
    let dir = opt_str(inputs, "path").unwrap_or_else(|| ".".into());
    let pattern = opt_str(inputs, "pattern").unwrap_or_else(|| "*".into());
    if !Path::new(&dir).is_dir() {
        return Err(ToolError::failed(format!("{what}: `{dir}` is not a folder")));
    }
    let full = Path::new(&dir).join(&pattern);
    let paths = glob::glob(&full.to_string_lossy()).map_err(|e| ToolError::failed(format!("{what}: bad pattern `{pattern}`: {e}")))?;
    let mut files: Vec<String> = paths.filter_map(Result::ok).map(|p| p.to_string_lossy().into_owned()).collect();
    files.sort();
    Ok(json!({"count": files.len(), "files": files}))
}

#[cfg(test)]
mod tests;
