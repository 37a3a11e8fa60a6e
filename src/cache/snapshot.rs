//! What a step made, changed and removed in the run folder: the folder is listed (path,
//! size, inode, times) before the step and again after it. File times are as coarse as the
//! filesystem's clock (a few milliseconds on Linux, two seconds on FAT), so a rewrite of the
//! same size in the same tick as the listing would keep every time the same — git's "racy
//! clean" problem, solved as git does: a marker file written just before listing gives the
//! filesystem's own time, and a file whose time is not older than the marker's is hashed
//! too. The engine's own `logs/` folder (where the marker lives) is left out.

use super::files::file_hash;
use super::Uncacheable;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Most entries a run folder may hold for a step in it to be cached: beyond, listing it
/// twice per step costs more than a cache is worth.
pub const MAX_ENTRIES: usize = 100_000;
/// The marker whose time is the filesystem's clock when a listing starts.
const MARKER: &str = "logs/.localforge-clock";

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    File {
        len: u64,
        ino: u64,
        mtime: (i64, i64),
        ctime: (i64, i64),
    },
    Dir,
    /// A symbolic link, with where it points; or anything else (a socket, a FIFO).
    Other(String),
}

/// The run folder as it was, by path relative to it.
#[derive(Debug, Default)]
pub struct Snapshot {
    entries: BTreeMap<String, Kind>,
    /// Hashes of files whose timestamps were too recent to trust.
    racy: BTreeMap<String, String>,
}

/// What changed between a snapshot and now.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    /// Files made or changed, relative to the run folder.
    pub made: Vec<String>,
    /// Folders made.
    pub dirs: Vec<String>,
    /// Files and folders removed (a folder ends with `/`).
    pub removed: Vec<String>,
    /// A link or other special file made or changed: a hit could not make it again.
    pub odd: Option<Uncacheable>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.made.is_empty() && self.dirs.is_empty() && self.removed.is_empty() && self.odd.is_none()
    }
    /// Every path that changed, files and folders alike.
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.made.iter().chain(&self.dirs).chain(&self.removed)
    }
}

pub fn take(run_dir: &Path) -> Result<Snapshot, Uncacheable> {
    let marker = run_dir.join(MARKER);
    let clock = std::fs::create_dir_all(marker.parent().unwrap_or(run_dir))
        .and_then(|_| std::fs::write(&marker, b"x"))
        .and_then(|_| std::fs::metadata(&marker))
        .map(|m| at((m.mtime(), m.mtime_nsec())))
        .map_err(|e| Uncacheable::Unwritable { path: marker.display().to_string(), error: e.to_string() })?;
    let mut snap = Snapshot::default();
    list(run_dir, run_dir, &mut snap.entries)?;
    for (rel, kind) in &snap.entries {
        if let Kind::File { mtime, ctime, .. } = kind {
            if at(*mtime).max(at(*ctime)) >= clock {
                if let Ok(h) = file_hash(&run_dir.join(rel)) {
                    snap.racy.insert(rel.clone(), h);
                }
            }
        }
    }
    Ok(snap)
}

/// What changed in `run_dir` since `before` was taken.
pub fn changes(before: &Snapshot, run_dir: &Path) -> Result<Changes, Uncacheable> {
    Ok(diff(before, &take(run_dir)?, run_dir))
}

/// What changed from `before` to `after` (both of `run_dir`; `after` the later).
pub fn diff(before: &Snapshot, after: &Snapshot, run_dir: &Path) -> Changes {
    let now = &after.entries;
    let mut c = Changes::default();
    for (rel, kind) in now {
        let old = before.entries.get(rel);
        match kind {
            Kind::Dir if old == Some(&Kind::Dir) => {}
            Kind::Dir => c.dirs.push(rel.clone()),
            Kind::File { .. } => {
                let same =
                    old == Some(kind) && before.racy.get(rel).is_none_or(|h| file_hash(&run_dir.join(rel)).is_ok_and(|now| &now == h));
                if !same {
                    c.made.push(rel.clone());
                }
            }
            Kind::Other(what) if old != Some(kind) => {
                c.odd.get_or_insert_with(|| Uncacheable::Unkept { what: what.clone(), rel: rel.clone() });
            }
            Kind::Other(_) => {}
        }
    }
    let gone: BTreeSet<&String> = before.entries.keys().filter(|k| !now.contains_key(*k)).collect();
    for rel in gone {
        let dir = before.entries.get(rel) == Some(&Kind::Dir);
        c.removed.push(if dir { format!("{rel}/") } else { rel.clone() });
    }
    c
}

fn at((s, ns): (i64, i64)) -> SystemTime {
    match s >= 0 {
        true => SystemTime::UNIX_EPOCH + Duration::new(s as u64, ns as u32),
        false => SystemTime::UNIX_EPOCH,
    }
}

fn list(root: &Path, dir: &Path, out: &mut BTreeMap<String, Kind>) -> Result<(), Uncacheable> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Uncacheable::Unlistable { path: dir.display().to_string(), error: e.to_string() }),
    };
    for entry in read {
        let entry = entry.map_err(|e| Uncacheable::Unlistable { path: dir.display().to_string(), error: e.to_string() })?;
        let p = entry.path();
        let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().to_string();
        if dir == root && rel == "logs" {
            continue; // the engine's own logs of each step's program
        }
        // Relative to the open folder (fstatat), not a walk of the whole path each time.
        let Ok(m) = entry.metadata() else { continue }; // removed meanwhile
        let kind = if m.is_dir() {
            Kind::Dir
        } else if m.is_file() {
            Kind::File { len: m.size(), ino: m.ino(), mtime: (m.mtime(), m.mtime_nsec()), ctime: (m.ctime(), m.ctime_nsec()) }
        } else if m.file_type().is_symlink() {
            Kind::Other(format!("a link to `{}`", std::fs::read_link(&p).map(|t| t.display().to_string()).unwrap_or_default()))
        } else {
            Kind::Other("a special file".into())
        };
        let is_dir = kind == Kind::Dir;
        out.insert(rel, kind);
        if out.len() > MAX_ENTRIES {
            return Err(Uncacheable::TooManyFiles { folder: "the run folder".into(), limit: MAX_ENTRIES });
        }
        if is_dir {
            list(root, &p, out)?;
        }
    }
    Ok(())
}
