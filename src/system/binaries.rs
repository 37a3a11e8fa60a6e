//! Command-line tools on PATH and their versions. Versions come from running
//! `TOOL --version` (all at once, each with a deadline) and are cached by the
//! binary's path, size and modification time, so a repeated report does not
//! start Blender again.

use crate::config::Config;
use crate::tools::process::{which_in, ProcessSpec};
use crate::tools::run_process;
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long `TOOL --version` may take (Blender needs about half a second).
const VERSION_DEADLINE: Duration = Duration::from_secs(4);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub found: bool,
    pub path: Option<String>,
    pub version: Option<String>,
}

/// A tool to look for: the names its program goes by, in order of preference.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub name: String,
    pub programs: Vec<String>,
}

/// The tools LocalForge's workers use, with the configured paths of Blender and
/// FFmpeg, plus `extra` (YAML tools' binaries).
pub fn wanted(config: &Config, extra: impl IntoIterator<Item = String>) -> Vec<Wanted> {
    let configured = |key: &str, default: &str| config.get(key).and_then(|v| v.as_str()).unwrap_or(default).to_string();
    let mut list: Vec<Wanted> = vec![
        w("blender", &[&configured("services.blender.path", "blender")]),
        w("ffmpeg", &[&configured("services.ffmpeg.path", "ffmpeg")]),
        w("ffprobe", &["ffprobe"]),
        w("whisper", &["whisper"]),
        w("whisper-ctranslate2", &["whisper-ctranslate2"]),
        w("yt-dlp", &["yt-dlp"]),
        w("pandoc", &["pandoc"]),
        w("imagemagick", &["magick", "convert"]),
        w("tesseract", &["tesseract"]),
    ];
    for bin in extra {
        if !list.iter().any(|x| x.programs.contains(&bin) || x.name == bin) {
            list.push(w(&bin, &[&bin]));
        }
    }
    list
}

fn w(name: &str, programs: &[&str]) -> Wanted {
    Wanted { name: name.into(), programs: programs.iter().map(|p| p.to_string()).collect() }
}

/// Look every tool up on `path_var` and read its version; `cache` is a JSON file of known versions.
pub async fn find_all(wanted: Vec<Wanted>, path_var: OsString, cache: Option<PathBuf>) -> IndexMap<String, Found> {
    let mut known: HashMap<String, String> = cache.as_deref().and_then(read_cache).unwrap_or_default();
    let located: Vec<(String, Option<PathBuf>)> = wanted
        .into_iter()
        .map(|t| {
            let path = t.programs.iter().find_map(|p| which_in(p, &path_var));
            (t.name, path)
        })
        .collect();
    let jobs = located.iter().map(|(_, path)| {
        let key = path.as_deref().and_then(cache_key);
        let cached = key.as_ref().and_then(|k| known.get(k).cloned());
        async move {
            match (path, cached) {
                (Some(_), Some(v)) => (key, Some(v), false),
                (Some(p), None) => (key, version_of(p).await, true),
                (None, _) => (None, None, false),
            }
        }
    });
    let versions = futures_util::future::join_all(jobs).await;
    let mut dirty = false;
    let mut out = IndexMap::new();
    for ((name, path), (key, version, fresh)) in located.into_iter().zip(versions) {
        if let (true, Some(k), Some(v)) = (fresh, &key, &version) {
            known.insert(k.clone(), v.clone());
            dirty = true;
        }
        let found = path.is_some();
        out.insert(name, Found { found, path: path.map(|p| p.display().to_string()), version });
    }
    if let (true, Some(c)) = (dirty, cache) {
        write_cache(&c, &known);
    }
    out
}

fn cache_key(path: &Path) -> Option<String> {
    let real = std::fs::canonicalize(path).ok()?;
    let meta = real.metadata().ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    Some(format!("{}|{}|{}", path.display(), meta.len(), mtime))
}

fn read_cache(path: &Path) -> Option<HashMap<String, String>> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Best effort: a cache that cannot be written only costs time on the next report.
fn write_cache(path: &Path, known: &HashMap<String, String>) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, serde_json::to_string_pretty(known).unwrap_or_default()).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// Run `PROGRAM --version` (or `-version`, which FFmpeg and ImageMagick use) and
/// pick the version out of its first lines.
async fn version_of(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_string_lossy().to_string();
    let flag = if ["ffmpeg", "ffprobe", "magick", "convert"].contains(&stem.as_str()) { "-version" } else { "--version" };
    let spec = ProcessSpec { argv: vec![path.display().to_string(), flag.into()], ..ProcessSpec::default() };
    // Through the same process handling as steps: its own group, stopped whole at the deadline.
    let stop = tokio_util::sync::CancellationToken::new();
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(VERSION_DEADLINE).await;
            stop.cancel();
        })
    };
    let out = run_process(&spec, &stop).await;
    timer.abort();
    let out = out.ok()?;
    let text = format!("{}\n{}", out.stdout, out.stderr);
    text.lines().take(3).find_map(version_in)
}

/// The first word that looks like a version (`3.4.1`, `n6.0`, `2024.08.06`, `7.1.1-8`).
/// A dozen lines instead of the regex crate: the pattern is this one shape.
pub fn version_in(line: &str) -> Option<String> {
    line.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')').find_map(|word| {
        let w = word.trim_start_matches(['v', 'n', 'V']);
        let mut parts = w.split('.');
        let first = parts.next()?;
        let digits = |s: &str| !s.is_empty() && s.chars().take_while(|c| c.is_ascii_digit()).count() > 0;
        (digits(first) && first.chars().all(|c| c.is_ascii_digit()) && w.contains('.') && parts.all(digits)).then(|| w.to_string())
    })
}
