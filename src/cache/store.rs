//! The content-addressed store under `~/.localforge/cache/` (or `cache.dir`):
//!
//! ```text
//! objects/<aa>/<sha256>     file contents, once each (deduplicated by hash)
//! entries/<kk>/<key>.json   a step's outputs and the files it made (relative path → hash)
//! tmp/                      files being written (renamed into place when complete)
//! ```
//!
//! An entry is written last, to a temporary file renamed into place, so a crash mid-write
//! leaves at most unreferenced objects (removed by the next eviction), never an entry that
//! is served half. Files are copied in with `std::fs::copy`, which on Linux uses
//! `copy_file_range` (a reflink on filesystems that share extents, btrfs and XFS), and out
//! by `clone::copy_checked` (whole for small files, `FICLONE` or a copy for big ones).
//! Not hard links: a later step that edits a restored file would edit the cache.

use super::in_place::InPlace;
use super::key::{localize, normalize};
use super::relocate;
use super::Uncacheable;
use crate::config::private;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryFile {
    /// Path relative to the run folder.
    pub rel: String,
    pub sha256: String,
    pub bytes: u64,
    /// Its permission bits (`0o755` for a script the step made runnable): objects are
    /// shared by content, so the mode is the entry's.
    #[serde(default)]
    pub mode: u32,
    /// The object is text with the run folder written `{run_dir}` (`cache::relocate`): a
    /// restore writes the new run's folder there.
    #[serde(default, skip_serializing_if = "is_false")]
    pub relocated: bool,
}

/// Files a hit could not give back, by path relative to the run folder, with why.
pub type Refused = Vec<(String, Uncacheable)>;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub run_id: String,
    pub step_id: String,
    pub tool: String,
    pub action: String,
    pub created: String,
    /// The outputs with the run folder written `{run_dir}`.
    pub outputs: Value,
    pub files: Vec<EntryFile>,
    pub bytes: u64,
    /// Folders the step made (empty ones included), relative to the run folder.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// What the step removed from the run folder (a folder ends with `/`).
    #[serde(default)]
    pub removed: Vec<String>,
    /// SHA-256 of what a hit gives back (`Entry::digest`): an entry edited or damaged on
    /// disk, its JSON still valid, is not served.
    #[serde(default)]
    pub sum: String,
    /// Seconds the step took when it ran: a step given less time (`timeout:`) would have
    /// timed out, so it is not served this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_s: Option<f64>,
}

impl Entry {
    fn digest(&self) -> String {
        // A tuple is written as the JSON array `json!([...])` makes, without copying each part.
        let doc = serde_json::to_string(&(&self.key, &self.outputs, &self.files, &self.dirs, &self.removed)).unwrap_or_default();
        crate::digest::sha256_hex(doc.as_bytes())
    }
}

pub struct Store {
    pub root: PathBuf,
    pub max_bytes: u64,
}

/// How long an object no entry names yet is kept: long enough for any entry being written.
const OBJECT_GRACE: Duration = Duration::from_secs(600);

/// An entry, through a temporary file in the cache's own `tmp` folder (cleared of strays
/// by eviction). An entry cut short by a power cut fails to parse or names an object of the
/// wrong size, and `lookup` drops it.
fn write_entry(path: &Path, tmp_dir: &Path, data: &[u8]) -> std::io::Result<()> {
    private::create_dir(tmp_dir)?;
    private::create_dir(path.parent().unwrap_or(tmp_dir))?;
    private::write_atomic_via(path, &private::temp_name(tmp_dir, "entry"), data)
}

impl Store {
    fn entry_path(&self, key: &str) -> PathBuf {
        self.root.join("entries").join(&key[..2]).join(format!("{key}.json"))
    }

    fn object_path(&self, hash: &str) -> PathBuf {
        self.root.join("objects").join(&hash[..2]).join(hash)
    }

    /// The entry of `key` as it is on disk: `Ok(None)` when there is none, `Ok(Err(()))`
    /// when it is broken (unreadable, not what its checksum says, or an object missing or
    /// of the wrong size); `Err(Deferred)` when reading it would pass `bound`.
    fn read_entry(&self, key: &str, bound: &InPlace) -> Result<Option<Result<Entry, ()>>, Uncacheable> {
        let Ok(mut file) = std::fs::File::open(self.entry_path(key)) else { return Ok(None) };
        let Ok(len) = file.metadata().map(|m| m.len()) else { return Ok(Some(Err(()))) };
        bound.bytes(len)?;
        // Entries are replaced by renaming, never written in place: `len` bytes are all of it.
        let mut text = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
        if std::io::Read::read_exact(&mut file, &mut text).is_err() {
            return Ok(Some(Err(())));
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(&text) else { return Ok(Some(Err(()))) };
        bound.paths(entry.files.len())?;
        let complete = entry.key == key
            && entry.sum == entry.digest()
            && entry.files.iter().all(|f| std::fs::metadata(self.object_path(&f.sha256)).is_ok_and(|m| m.len() == f.bytes));
        Ok(Some(if complete { Ok(entry) } else { Err(()) }))
    }

    /// The complete entry of `key` without counting it as used (`run --dry-run`).
    pub fn peek(&self, key: &str) -> Option<Entry> {
        self.read_entry(key, &InPlace::unbounded()).ok().flatten().and_then(Result::ok)
    }

    /// The entry of `key`, when it and every object it names are complete; a broken entry
    /// is removed and not served.
    pub fn lookup(&self, key: &str) -> Option<Entry> {
        self.lookup_within(key, &InPlace::unbounded()).ok().flatten()
    }

    /// `lookup` within `bound` (`cache::in_place`): `Err(Deferred)`, having changed
    /// nothing, when the entry is too big for it or names too many objects.
    pub fn lookup_within(&self, key: &str, bound: &InPlace) -> Result<Option<Entry>, Uncacheable> {
        let path = self.entry_path(key);
        Ok(match self.read_entry(key, bound)? {
            Some(Ok(entry)) => {
                // Recently used: eviction goes by the entry file's modification time.
                touch(&path);
                Some(entry)
            }
            None => None,
            Some(Err(())) => {
                let _ = std::fs::remove_file(&path);
                None
            }
        })
    }

    /// Put the entry's files into `run_dir`, make its folders, remove what the step removed,
    /// and return its outputs for this run. Each object is checked against its SHA-256 as it
    /// is copied (into a temporary file beside its place, renamed in only once all are
    /// good): a bad one is deleted with the entry, nothing is restored, and the step runs.
    pub fn restore(&self, entry: &Entry, run_dir: &Path) -> Result<Map<String, Value>, Uncacheable> {
        self.restore_within(entry, run_dir, &InPlace::unbounded())
    }

    /// `restore` within `bound` (`cache::in_place`). What it would do is all known from the
    /// entry, so it is weighed first: `Err(Deferred)` comes before anything is done.
    pub fn restore_within(&self, entry: &Entry, run_dir: &Path, bound: &InPlace) -> Result<Map<String, Value>, Uncacheable> {
        bound.paths(entry.files.len() + entry.dirs.len())?;
        bound.bytes(entry.files.iter().map(|f| f.bytes).sum())?;
        if !entry.removed.is_empty() {
            bound.unsized_work()?; // a folder the step removed goes with all it holds
        }
        let here = std::os::unix::ffi::OsStrExt::as_bytes(run_dir.as_os_str());
        let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
        let unstage = |staged: &[(PathBuf, PathBuf)]| staged.iter().for_each(|(tmp, _)| drop(std::fs::remove_file(tmp)));
        for f in &entry.files {
            let dest = run_dir.join(&f.rel);
            let parent = dest.parent().unwrap_or(run_dir).to_path_buf();
            let tmp = private::temp_name(&parent, "restore");
            // Objects are 0600; an entry from before modes were kept (0) gives its files that.
            let mode = if f.mode == 0 { 0o600 } else { f.mode };
            let relocate = f.relocated.then_some(here);
            let copy = || super::clone::copy_checked(&self.object_path(&f.sha256), &tmp, mode, (&f.sha256, f.bytes), relocate);
            // The folder is made when the copy finds it missing, not looked for before each file.
            let copied = match copy() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !parent.is_dir() => {
                    std::fs::create_dir_all(&parent).and_then(|_| copy())
                }
                other => other,
            };
            staged.push((tmp, dest));
            match copied {
                Ok(true) => {}
                Ok(false) => {
                    unstage(&staged);
                    let _ = std::fs::remove_file(self.object_path(&f.sha256));
                    let _ = std::fs::remove_file(self.entry_path(&entry.key));
                    return Err(Uncacheable::Damaged(f.rel.clone()));
                }
                Err(e) => {
                    unstage(&staged);
                    return Err(Uncacheable::Unrestorable { rel: f.rel.clone(), error: e.to_string() });
                }
            }
        }
        let placed = (|| {
            for d in &entry.dirs {
                std::fs::create_dir_all(run_dir.join(d))?;
            }
            for (tmp, dest) in &staged {
                std::fs::rename(tmp, dest)?;
            }
            for r in &entry.removed {
                let p = run_dir.join(r.trim_end_matches('/'));
                gone(if r.ends_with('/') { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) })?;
            }
            Ok::<_, std::io::Error>(())
        })();
        if let Err(e) = placed {
            unstage(&staged);
            return Err(Uncacheable::Unplaced(e.to_string()));
        }
        match localize(&entry.outputs, &run_dir.to_string_lossy()) {
            Value::Object(m) => Ok(m),
            _ => Ok(Map::new()),
        }
    }

    /// Store a step's outputs and what it made (`capture`): its files are copied into the
    /// store, then the entry is written.
    pub fn put(
        &self,
        key: &str,
        ids: (&str, &str, &str, &str),
        outputs: &Map<String, Value>,
        run_dir: &Path,
        made: &super::capture::Made,
        relocatable: bool,
    ) -> std::io::Result<()> {
        let (files, refused) = self.put_files(&relocate::Forms::of(run_dir), made, relocatable)?;
        if let Some((_, why)) = refused.into_iter().next() {
            return Err(std::io::Error::other(why));
        }
        self.put_entry(key, ids, outputs, run_dir, made, (files, None))
    }

    /// Copy what a step made into the store (as it is now: a later step may change it):
    /// the files stored, and those a hit could not give back as running the step makes them
    /// (`cache::relocate`), with why. A step whose own files include one of those is not
    /// stored; which are its own is known only once the steps beside it have said
    /// (`capture::attribute`). `relocatable`: the step's tool says its files hold the run
    /// folder only as its inputs put it there (`Tool::relocatable`). `forms`: the run folder.
    pub fn put_files(
        &self,
        forms: &relocate::Forms,
        made: &super::capture::Made,
        relocatable: bool,
    ) -> std::io::Result<(Vec<EntryFile>, Refused)> {
        let tmp_dir = self.root.join("tmp");
        private::create_dir(&tmp_dir)?;
        let run_dir = forms.dir.as_path();
        let (mut files, mut refused) = (Vec::new(), Vec::new());
        for rel in &made.files {
            let file = run_dir.join(rel);
            // The object is named by the hash of what was copied or read: a file that changes
            // meanwhile cannot put other bytes under a hash.
            let tmp = private::temp_name(&tmp_dir, "object");
            let (hash, relocated) = match stage_object(&file, &tmp, (forms, relocatable), rel) {
                Ok(Ok(staged)) => staged,
                Ok(Err(why)) => {
                    let _ = std::fs::remove_file(&tmp);
                    refused.push((rel.clone(), why));
                    continue;
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
            };
            let object = self.object_path(&hash);
            if object.exists() {
                let _ = std::fs::remove_file(&tmp);
                // Fresh again, so a concurrent eviction's grace period covers it too.
                if let Ok(f) = std::fs::File::options().append(true).open(&object) {
                    let _ = f.set_modified(SystemTime::now());
                }
            } else {
                private::create_dir(object.parent().unwrap_or(&tmp_dir))?;
                std::fs::rename(&tmp, &object)?;
            }
            let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file)?.permissions()) & 0o7777;
            files.push(EntryFile { rel: rel.clone(), sha256: hash, bytes: std::fs::metadata(&object)?.len(), mode, relocated });
        }
        Ok((files, refused))
    }

    /// Write the entry of a step whose files `put_files` stored (those `made` still names).
    pub fn put_entry(
        &self,
        key: &str,
        (run_id, step_id, tool, action): (&str, &str, &str, &str),
        outputs: &Map<String, Value>,
        run_dir: &Path,
        made: &super::capture::Made,
        (mut files, took_s): (Vec<EntryFile>, Option<f64>),
    ) -> std::io::Result<()> {
        let tmp_dir = self.root.join("tmp");
        files.retain(|f| made.files.contains(&f.rel));
        let entry = Entry {
            key: key.to_string(),
            run_id: run_id.to_string(),
            step_id: step_id.to_string(),
            tool: tool.to_string(),
            action: action.to_string(),
            created: crate::store::now(),
            outputs: normalize(&Value::Object(outputs.clone()), &run_dir.to_string_lossy()),
            bytes: files.iter().map(|f| f.bytes).sum(),
            files,
            dirs: made.dirs.clone(),
            removed: made.removed.clone(),
            sum: String::new(),
            took_s,
        };
        let entry = Entry { sum: entry.digest(), ..entry };
        let data = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
        write_entry(&self.entry_path(key), &tmp_dir, &data)?;
        Ok(())
    }

    fn entries(&self) -> Vec<(PathBuf, SystemTime, Entry)> {
        self.entries_sized().into_iter().map(|(p, t, e, _)| (p, t, e)).collect()
    }

    /// Every readable entry with its last use and its own file's size.
    fn entries_sized(&self) -> Vec<(PathBuf, SystemTime, Entry, u64)> {
        let mut out = Vec::new();
        let Ok(dirs) = std::fs::read_dir(self.root.join("entries")) else { return out };
        for d in dirs.flatten() {
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                let p = f.path();
                if p.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let Ok(text) = std::fs::read(&p) else { continue };
                let Ok(entry) = serde_json::from_slice::<Entry>(&text) else { continue };
                let meta = f.metadata().ok();
                let used = meta.as_ref().and_then(|m| m.modified().ok()).unwrap_or(SystemTime::UNIX_EPOCH);
                out.push((p, used, entry, meta.map_or(0, |m| m.len())));
            }
        }
        out
    }

    /// Remove least recently used entries until they fit `max_bytes` — their own files
    /// (outputs such as LLM text live there) and the objects they name, each counted once —
    /// then objects no entry names and temporary files older than an hour (a crash's leftovers).
    pub fn evict(&self) -> std::io::Result<u64> {
        let mut entries = self.entries_sized();
        entries.sort_by_key(|(_, used, _, _)| *used);
        let mut refs: std::collections::HashMap<String, (u32, u64)> = std::collections::HashMap::new();
        for (_, _, e, _) in &entries {
            for f in &e.files {
                refs.entry(f.sha256.clone()).or_insert((0, f.bytes)).0 += 1;
            }
        }
        let mut total: u64 = refs.values().map(|(_, b)| b).sum::<u64>() + entries.iter().map(|(_, _, _, n)| n).sum::<u64>();
        let mut removed = 0;
        let mut kept = std::collections::VecDeque::from(entries);
        while total > self.max_bytes {
            let Some((path, _, entry, own)) = kept.pop_front() else { break };
            gone(std::fs::remove_file(&path))?;
            removed += 1;
            total -= own;
            for f in &entry.files {
                if let Some(r) = refs.get_mut(&f.sha256) {
                    r.0 -= 1;
                    if r.0 == 0 {
                        total -= r.1;
                    }
                }
            }
        }
        let kept: Vec<(PathBuf, SystemTime, Entry)> = kept.into_iter().map(|(p, t, e, _)| (p, t, e)).collect();
        self.collect_garbage(&kept)?;
        Ok(removed)
    }

    fn object_bytes(&self, entries: &[(PathBuf, SystemTime, Entry)]) -> u64 {
        let mut seen = HashSet::new();
        entries.iter().flat_map(|(_, _, e)| e.files.iter()).filter(|f| seen.insert(f.sha256.clone())).map(|f| f.bytes).sum()
    }

    /// Objects no entry names are removed once they are older than `OBJECT_GRACE`: a younger
    /// one may belong to an entry another step or run is writing right now.
    fn collect_garbage(&self, entries: &[(PathBuf, SystemTime, Entry)]) -> std::io::Result<()> {
        self.collect_garbage_older_than(entries, OBJECT_GRACE)
    }

    fn collect_garbage_older_than(&self, entries: &[(PathBuf, SystemTime, Entry)], grace: Duration) -> std::io::Result<()> {
        let live: HashSet<&str> = entries.iter().flat_map(|(_, _, e)| e.files.iter().map(|f| f.sha256.as_str())).collect();
        let cutoff = SystemTime::now() - grace;
        for d in std::fs::read_dir(self.root.join("objects")).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                let old = f.metadata().and_then(|m| m.modified()).is_ok_and(|t| t <= cutoff);
                if old && !live.contains(f.file_name().to_string_lossy().as_ref()) {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for f in std::fs::read_dir(self.root.join("tmp")).into_iter().flatten().flatten() {
            if f.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < hour_ago) {
                let _ = std::fs::remove_file(f.path());
            }
        }
        Ok(())
    }

    /// Entries, the bytes their files take (each object once), oldest and newest use.
    pub fn stats(&self) -> Value {
        let sized = self.entries_sized();
        let own: u64 = sized.iter().map(|(_, _, _, n)| n).sum();
        let entries: Vec<(PathBuf, SystemTime, Entry)> = sized.into_iter().map(|(p, t, e, _)| (p, t, e)).collect();
        let used: Vec<SystemTime> = entries.iter().map(|(_, t, _)| *t).collect();
        let iso = |t: Option<&SystemTime>| t.map(|t| chrono::DateTime::<chrono::Utc>::from(*t).to_rfc3339());
        serde_json::json!({
            "dir": self.root,
            "entries": entries.len(),
            "bytes": self.object_bytes(&entries) + own,
            "max_bytes": self.max_bytes,
            "oldest_use": iso(used.iter().min()),
            "newest_use": iso(used.iter().max()),
            "by_tool": entries.iter().fold(Map::new(), |mut m, (_, _, e)| {
                let n = m.get(&e.tool).and_then(Value::as_u64).unwrap_or(0);
                m.insert(e.tool.clone(), Value::from(n + 1));
                m
            }),
        })
    }

    /// Remove every entry (or those not used for `older_than`), then unreferenced objects.
    pub fn clear(&self, older_than: Option<Duration>) -> std::io::Result<usize> {
        let cutoff = older_than.map(|d| SystemTime::now() - d);
        let mut kept = Vec::new();
        let mut removed = 0;
        for (path, used, entry) in self.entries() {
            if cutoff.is_none_or(|c| used < c) {
                gone(std::fs::remove_file(&path))?;
                removed += 1;
            } else {
                kept.push((path, used, entry));
            }
        }
        // `cache clear` is asked for by a person: unreferenced objects go now.
        self.collect_garbage_older_than(&kept, Duration::ZERO)?;
        Ok(removed)
    }
}

/// Set `path`'s modification time to now (one `utimensat`, not an open, a set and a close:
/// every cache hit does it).
fn touch(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return };
    let times = [libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT }, libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW }];
    // SAFETY: `c` is a NUL-terminated path and `times` two timespecs, alive for the call.
    unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
}

/// A file another run removed first is as good as removed.
pub(super) fn gone(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// `file` copied to `tmp` (mode 0600: the store's objects are its user's alone; the entry
/// keeps the mode a restore gives back), as the store keeps it: its SHA-256 and whether it
/// is text with the run folder (`forms`) written `{run_dir}`; or why it cannot be kept.
fn stage_object(
    file: &Path,
    tmp: &Path,
    (forms, relocatable): (&relocate::Forms, bool),
    rel: &str,
) -> std::io::Result<Result<(String, bool), Uncacheable>> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut src = std::fs::File::open(file)?;
    if src.metadata()?.len() <= relocate::MAX {
        let mut data = Vec::new();
        src.read_to_end(&mut data)?;
        let (data, relocated) = match relocate::normalize(&data, forms, rel, relocatable) {
            Ok(None) => (data, false),
            Ok(Some(text)) => (text, true),
            Err(why) => return Ok(Err(why)),
        };
        let mut out = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp)?;
        out.write_all(&data)?;
        return Ok(Ok((crate::digest::sha256_hex(&data), relocated)));
    }
    // `copy` on Linux is `copy_file_range` (a reflink where extents are shared); the copy is
    // then read once, hashed and searched for the run folder.
    std::fs::copy(file, tmp).and_then(|_| std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o600)))?;
    let (hash, holds) = relocate::hash_and_find(&mut std::fs::File::open(tmp)?, forms)?;
    Ok(if holds { Err(relocate::too_big(rel)) } else { Ok((hash, false)) })
}
