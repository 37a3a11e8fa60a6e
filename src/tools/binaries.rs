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
    /// Why a program on PATH does not count (it is not what its name says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What running a program's version flag told: its version, and whether it is
/// the program its name promises (a `convert` that is not ImageMagick is not).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct Identity {
    pub version: Option<String>,
    pub genuine: bool,
}

/// How to recognise the programs LocalForge's tools run, by file name: the flag that
/// makes them say what they are, and a text their first lines must contain. A name
/// not listed is taken for what it says it is.
pub fn signature(program: &str) -> Option<(&'static str, &'static str)> {
    Some(match program {
        "convert" | "magick" => ("-version", "ImageMagick"),
        "ffmpeg" => ("-version", "ffmpeg version"),
        "ffprobe" => ("-version", "ffprobe version"),
        "blender" => ("--version", "Blender"),
        "pandoc" => ("--version", "pandoc"),
        "tesseract" => ("--version", "tesseract"),
        "sox" => ("--version", "SoX"),
        "espeak-ng" => ("--version", "eSpeak NG"),
        _ => return None,
    })
}

fn flag_for(program: &str) -> &'static str {
    signature(program).map_or("--version", |(flag, _)| flag)
}

/// What a stand-in says instead of a version: a shell's "command not found", a shim's
/// "ImageMagick is not installed here". An answer with one of these is not the program,
/// whatever name it prints beside it.
const DISOWNING: &[&str] = &[
    "not installed",
    "not found",
    "no such",
    "not available",
    "cannot find",
    "can't find",
    "could not find",
    "unable to find",
    "unable to locate",
    "is missing",
    "stand-in",
    "stands in for",
];

/// Whether a line of a version answer says the program is not there.
pub fn disowns(line: &str) -> bool {
    let line = line.to_lowercase();
    DISOWNING.iter().any(|p| line.contains(p))
}

/// Read a program's answer to its version flag: what it printed and its exit code.
/// `None` when it did not run or outlived the deadline: then nothing is known (a cold
/// Blender on a busy machine), the program counts as present, and the answer is not
/// cached. It is not the program when it says it is not installed (or exits 126/127, a
/// shell's "cannot run" and "not found"), and, for a program whose answer is known
/// (`signature`), when it exits non-zero or does not name itself in its first lines.
pub fn identity_from(program: &str, answer: Option<(&str, i32)>) -> Option<Identity> {
    let (printed, code) = answer?;
    let head: Vec<&str> = printed.lines().filter(|l| !l.trim().is_empty()).take(5).collect();
    let disowned = matches!(code, 126 | 127) || head.iter().any(|l| disowns(l));
    let genuine = !disowned && signature(program).is_none_or(|(_, needle)| code == 0 && head.iter().any(|l| l.contains(needle)));
    let version = if genuine { head.iter().take(3).find_map(|l| version_in(l)) } else { None };
    Some(Identity { version, genuine })
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
    let mut known: HashMap<String, Identity> = cache.as_deref().and_then(read_cache).unwrap_or_default();
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
                (Some(_), Some(id)) => (key, Some(id), false),
                (Some(p), None) => (key, identify(p).await, true),
                (None, _) => (None, None, false),
            }
        }
    });
    let identities = futures_util::future::join_all(jobs).await;
    let mut dirty = false;
    let mut out = IndexMap::new();
    for ((name, path), (key, id, fresh)) in located.into_iter().zip(identities) {
        if let (true, Some(k), Some(id)) = (fresh, &key, &id) {
            known.insert(k.clone(), id.clone());
            dirty = true;
        }
        let path = path.map(|p| p.display().to_string());
        let found = match id {
            Some(Identity { genuine: false, .. }) => {
                let what = path.as_deref().unwrap_or_default();
                let note = format!("`{what}` is on PATH but is not {name} (its version flag does not say so)");
                Found { found: false, path, version: None, note: Some(note) }
            }
            Some(Identity { version, .. }) => Found { found: true, path, version, note: None },
            // On PATH, but it did not answer in time: present, version unknown.
            None if path.is_some() => Found { found: true, path, version: None, note: None },
            None => Found { found: false, path, version: None, note: None },
        };
        out.insert(name, found);
    }
    if let (true, Some(c)) = (dirty, cache) {
        write_cache(&c, &known);
    }
    out
}

/// Whether the program at `path` is what its name says, for checks made outside an
/// async context (a YAML tool's requirements): the same test and cache as `system`.
/// A program not in `signature` is not run here (its version flag is a guess), but what
/// `system` learned of it stands: a stand-in `system` saw through is not taken here either.
pub fn genuine_blocking(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let cache = default_cache();
    let key = cache_key(path);
    let mut known = read_cache(&cache).unwrap_or_default();
    if let Some(id) = key.as_ref().and_then(|k| known.get(k)) {
        return id.genuine;
    }
    let Some((flag, _)) = signature(&name) else { return true };
    let answer = output_blocking(path, flag);
    let Some(id) = identity_from(&name, answer.as_ref().map(|(text, code)| (text.as_str(), *code))) else { return true };
    if let Some(k) = key {
        known.insert(k, id.clone());
        write_cache(&cache, &known);
    }
    id.genuine
}

/// The version cache `system` and tool checks share.
pub fn default_cache() -> PathBuf {
    crate::config::home().join(".localforge").join("cache").join("tool-versions.json")
}

/// `PROGRAM FLAG`'s stdout and stderr and exit code (-1: killed), or `None` when it cannot
/// run or outlives the deadline. The output is read while the program runs, so a
/// talkative one cannot fill a pipe and stall.
fn output_blocking(path: &Path, flag: &str) -> Option<(String, i32)> {
    use std::process::{Command, Stdio};
    let child = Command::new(path).arg(flag).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().ok()?;
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(VERSION_DEADLINE) {
        Ok(out) => out.ok()?,
        Err(_) => {
            // SAFETY: `pid` is our child, not yet reaped (its waiter thread has not returned).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = rx.recv();
            return None;
        }
    };
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((text, out.status.code().unwrap_or(-1)))
}

fn cache_key(path: &Path) -> Option<String> {
    let real = std::fs::canonicalize(path).ok()?;
    let meta = real.metadata().ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    Some(format!("{}|{}|{}", path.display(), meta.len(), mtime))
}

/// How identities are judged; a cache written under another rule is judged again (an
/// earlier rule took a stand-in that named ImageMagick for ImageMagick).
const CACHE_RULES: u32 = 2;

#[derive(serde::Deserialize, Serialize)]
struct CacheFile {
    rules: u32,
    known: HashMap<String, Identity>,
}

/// Known identities; a file in an older or broken format counts as empty.
fn read_cache(path: &Path) -> Option<HashMap<String, Identity>> {
    let file: CacheFile = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    (file.rules == CACHE_RULES).then_some(file.known)
}

/// Best effort: a cache that cannot be written only costs time on the next report.
fn write_cache(path: &Path, known: &HashMap<String, Identity>) {
    if let Some(dir) = path.parent() {
        let _ = crate::config::private::create_dir(dir);
    }
    let file = CacheFile { rules: CACHE_RULES, known: known.clone() };
    let _ = crate::config::private::write_atomic(path, serde_json::to_string_pretty(&file).unwrap_or_default().as_bytes());
}

/// Run `PROGRAM --version` (or `-version`, which FFmpeg and ImageMagick use): its
/// version, and whether it is the program its name promises. An unreadable version
/// is an answer too (cached like the others, so an odd program is not run every time).
async fn identify(path: &Path) -> Option<Identity> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let spec = ProcessSpec { argv: vec![path.display().to_string(), flag_for(&name).into()], ..ProcessSpec::default() };
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
    let answer = out.ok().map(|o| (format!("{}\n{}", o.stdout, o.stderr), o.code));
    identity_from(&name, answer.as_ref().map(|(text, code)| (text.as_str(), *code)))
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
