//! Whether a finished step can be stored, and what a hit must give back: every file it
//! made or changed in the run folder (named by its outputs or not), the folders it made
//! and what it removed. It is not stored when a hit could not do what running it did — a
//! file it read changed while it ran, something outside the run folder that its outputs
//! name was made or changed, a link was made — or when steps running beside it make it
//! impossible to tell its files from theirs. When in doubt, a step runs.

use super::key::strings;
use super::snapshot::Changes;
use super::Uncacheable;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// What an entry keeps of a step, relative to the run folder.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Made {
    pub files: BTreeSet<String>,
    pub dirs: Vec<String>,
    pub removed: Vec<String>,
}

/// What a step made, and the paths in the run folder it names (its outputs, what it read):
/// alone, every change is its own; beside other steps, `attribute` sorts them out.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Captured {
    pub made: Made,
    pub named: Vec<String>,
}

/// A step's changes when other steps ran beside it: each changed path belongs to whichever
/// names it most closely — the path itself, or the nearest folder above it — among the
/// step (`own`) and the others (`theirs`). Theirs are left out; one no one names, or a file
/// the step and another name alike, means the step is not stored (a folder both make is
/// made either way).
pub fn attribute(mut made: Made, own: &[String], theirs: &[String]) -> Result<Made, Uncacheable> {
    let changed: Vec<(String, bool)> = made
        .files
        .iter()
        .map(|f| (f.clone(), false))
        .chain(made.dirs.iter().map(|d| (d.clone(), true)))
        .chain(made.removed.iter().map(|r| (r.clone(), r.ends_with('/'))))
        .collect();
    for (path, folder) in changed {
        let rel = path.trim_end_matches('/');
        let (mine, other) = (closest(own, rel), closest(theirs, rel));
        if other > mine {
            made.files.remove(&path);
            made.dirs.retain(|d| d != &path);
            made.removed.retain(|r| r != &path);
        } else if mine == 0 {
            return Err(Uncacheable::Unclaimed(rel.to_string()));
        } else if mine == other && !folder {
            return Err(Uncacheable::Shared(rel.to_string()));
        }
    }
    Ok(made)
}

/// How closely `claims` name `rel`: the depth of the deepest claim that is `rel` or a folder
/// above it (0: none).
fn closest(claims: &[String], rel: &str) -> usize {
    claims
        .iter()
        .map(|c| c.trim_end_matches('/'))
        .filter(|c| !c.is_empty() && (rel == *c || Path::new(rel).starts_with(c)))
        .map(|c| Path::new(c).components().count())
        .max()
        .unwrap_or(0)
}

/// What `put` stores for a step, or why it is not stored. `forms`: the run folder (and how
/// its path may be written); `read`: the hash of every path the key read, taken before the
/// step; `changes`: the run folder's difference over the step.
pub fn capture(
    outputs: &Map<String, Value>,
    forms: &super::relocate::Forms,
    read: &HashMap<String, String>,
    changes: &Changes,
) -> Result<Captured, Uncacheable> {
    let run_dir = forms.dir.as_path();
    if let Some(odd) = &changes.odd {
        return Err(odd.clone());
    }
    // Stored, the run folder is written `{run_dir}`: text that says so already would come
    // back as the next run's folder.
    if super::relocate::holds_placeholder(outputs) {
        return Err(Uncacheable::Placeholder("outputs"));
    }
    // Outputs get the new run's folder where they name this one as it is; written another
    // way (escaped JSON, through `%20`s), it would come back naming this run's folder.
    if forms.written_otherwise(outputs) {
        return Err(Uncacheable::OutputsHoldRunFolder);
    }
    let mut made = Made { files: changes.made.iter().cloned().collect(), dirs: changes.dirs.clone(), removed: changes.removed.clone() };
    // A file it read that changed while it ran: outside the run folder a hit cannot make
    // that change again (and it may not be the step's doing at all).
    for (path, before) in read {
        let p = Path::new(path);
        if p.starts_with(run_dir) {
            continue; // the run folder's listing says what changed there
        }
        let now = super::files::content_hash(p)?;
        if before == super::key::ABSENT && now.is_some() {
            return Err(Uncacheable::MadeOutside(path.clone()));
        }
        if before != super::key::ABSENT && now.as_deref() != Some(before.as_str()) {
            return Err(Uncacheable::InputChanged(path.clone()));
        }
    }
    // Paths its outputs name: inside the run folder they are kept (also when the listing
    // saw no change: a hit must hand over what the outputs name); outside, only what it
    // was given and left as it was.
    let mut named = Vec::new();
    let mut texts = Vec::new();
    strings(&Value::Object(outputs.clone()), &mut texts);
    for t in texts {
        // A path a program printed (`stdout`) ends with its newline.
        let t = t.trim();
        let p = Path::new(t);
        if !p.is_absolute() || !p.exists() {
            continue;
        }
        match p.strip_prefix(run_dir) {
            Ok(rel) if rel.as_os_str().is_empty() || rel == Path::new("temp") => {}
            Ok(rel) => {
                let rel = rel.to_string_lossy().to_string();
                let (mut found, mut folders) = (Vec::new(), Vec::new());
                files_under(p, &mut found, &mut folders).map_err(|e| Uncacheable::unreadable(t, e))?;
                for f in found {
                    made.files.insert(f.strip_prefix(run_dir).unwrap_or(&f).to_string_lossy().to_string());
                }
                // A folder it names (`file_ops.mkdir`), empty ones under it too: a hit makes them.
                for d in folders {
                    let d = d.strip_prefix(run_dir).unwrap_or(&d).to_string_lossy().to_string();
                    if !made.dirs.contains(&d) {
                        made.dirs.push(d);
                    }
                }
                named.push(rel);
            }
            // Read and checked unchanged above (an absent one that now exists was refused there).
            Err(_) if read.contains_key(t) => {}
            Err(_) => return Err(Uncacheable::NamesOutside(t.to_string())),
        }
    }
    let read_here: Vec<String> =
        read.keys().filter_map(|p| Path::new(p).strip_prefix(run_dir).ok().map(|r| r.to_string_lossy().to_string())).collect();
    named.extend(read_here);
    Ok(Captured { made, named })
}

/// The paths in the run folder that a step's inputs and outputs name (whole values or
/// words of text), relative to it: what a step running beside another says is its own.
pub fn named_in(values: &[&Map<String, Value>], run_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        for (_, p) in super::key::named_paths(v, &[], &[], None, &super::in_place::InPlace::unbounded()).unwrap_or_default() {
            if let Ok(rel) = p.strip_prefix(run_dir) {
                if !rel.as_os_str().is_empty() {
                    out.push(rel.to_string_lossy().to_string());
                }
            }
        }
    }
    out
}

fn files_under(path: &Path, out: &mut Vec<std::path::PathBuf>, folders: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        folders.push(path.to_path_buf());
        for e in std::fs::read_dir(path)? {
            files_under(&e?.path(), out, folders)?;
        }
    } else if meta.is_file() {
        out.push(path.to_path_buf());
    }
    Ok(())
}
