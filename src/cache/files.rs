//! Content digests: of a file, of a folder (its sorted relative paths with each file's
//! hash), and of a program found on `PATH` (remembered for as long as the file's inode,
//! size and times stay the same, so a 200 MB Blender is read once per process, not per step).

use super::in_place::InPlace;
use super::Uncacheable;
use crate::digest::{hex, sha256_hex};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Most files a folder named by an input may hold before the step is not cached.
pub const MAX_FILES_PER_FOLDER: usize = 10_000;
/// Files up to this size are read whole to be hashed; bigger ones a piece at a time.
const WHOLE: u64 = 64 * 1024;

pub fn file_hash(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    hash_reader(&mut f)
}

/// All of `f`, read into a buffer sized for the `len` bytes it is expected to hold:
/// a small file costs two `read`s, with no `fstat` or `lseek` to size the buffer
/// (`File::read_to_end` makes both) and no 64 KiB buffer to clear.
fn read_expected(f: &mut std::fs::File, len: u64) -> std::io::Result<Vec<u8>> {
    let mut data = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX).saturating_add(1)];
    let mut filled = 0;
    loop {
        if filled == data.len() {
            data.resize(data.len() * 2, 0); // it grew since it was measured
        }
        match f.read(&mut data[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    data.truncate(filled);
    Ok(data)
}

pub fn hash_reader(r: &mut dyn Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// sha256 of a file's bytes, or of a folder's sorted (relative path, file hash) list;
/// `None` when nothing is there. A folder is listed before anything is read, so one too
/// big to hash costs a listing, not a read of everything in it.
pub fn content_hash(path: &Path) -> Result<Option<String>, Uncacheable> {
    content_hash_skipping(path, None)
}

/// `content_hash`, leaving out the folder `skip` (the engine's own logs in a run folder).
pub fn content_hash_skipping(path: &Path, skip: Option<&Path>) -> Result<Option<String>, Uncacheable> {
    content_hash_within(path, skip, &InPlace::unbounded())
}

/// `content_hash_skipping` within `bound`: a file bigger than what is left of it, or a
/// folder, is `Uncacheable::Deferred`.
pub fn content_hash_within(path: &Path, skip: Option<&Path>, bound: &InPlace) -> Result<Option<String>, Uncacheable> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(None) };
    if meta.is_file() {
        bound.bytes(meta.len())?;
        let hash = match meta.len() <= WHOLE {
            true => std::fs::File::open(path).and_then(|mut f| read_expected(&mut f, meta.len())).map(|d| sha256_hex(&d)),
            false => file_hash(path),
        };
        return hash.map(Some).map_err(|e| Uncacheable::unreadable(path.display(), e));
    }
    if !meta.is_dir() {
        return Ok(None);
    }
    bound.unsized_work()?;
    let mut listed = Vec::new();
    let mut seen: std::collections::HashSet<PathBuf> = std::fs::canonicalize(path).into_iter().collect();
    list(path, path, skip, &mut seen, &mut listed)?;
    listed.sort();
    let mut h = Sha256::new();
    for (rel, file, mode) in &listed {
        let hash = match file.as_os_str().is_empty() {
            true => String::new(), // a folder, a link's target, a special file: its name says it all
            false => file_hash(file).map_err(|e| Uncacheable::unreadable(file.display(), e))?,
        };
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(hash.as_bytes());
        h.update([0]);
        h.update(mode.to_le_bytes());
    }
    Ok(Some(format!("dir:{}", hex(&h.finalize()))))
}

/// Everything under `dir` that a program reading the folder could see, as (name from
/// `root`, the file to hash or none, its permission bits): files, folders (empty ones
/// too), each link's target as written (a link to a folder is followed: `grep -R` and
/// `cp -rL` read through it; a folder met again is not), and special files by their kind.
fn list(
    root: &Path,
    dir: &Path,
    skip: Option<&Path>,
    seen: &mut std::collections::HashSet<PathBuf>,
    out: &mut Vec<(String, PathBuf, u32)>,
) -> Result<(), Uncacheable> {
    let read = std::fs::read_dir(dir).map_err(|e| Uncacheable::unreadable(dir.display(), e))?;
    // In name order: which of two links to one folder is followed must not depend on the
    // order the file system lists them in.
    let mut entries: Vec<std::fs::DirEntry> = read.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let p = entry.path();
        let ty = entry.file_type().map_err(|e| Uncacheable::unreadable(p.display(), e))?;
        let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().to_string();
        if ty.is_dir() && skip == Some(p.as_path()) {
            continue;
        }
        if ty.is_symlink() {
            let target = std::fs::read_link(&p).map_err(|e| Uncacheable::unreadable(p.display(), e))?;
            out.push((format!("{rel} -> {}", target.display()), PathBuf::new(), 0));
        }
        // What the name leads to (through a link): a missing target is just the link.
        // (through the folder's descriptor where no link is in the way: no walk of the path)
        let meta = if ty.is_symlink() { std::fs::metadata(&p) } else { entry.metadata() };
        let Ok(meta) = meta else { continue };
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            // An empty folder is part of what the folder holds too.
            out.push((format!("{rel}/"), PathBuf::new(), mode));
            let real = std::fs::canonicalize(&p).map_err(|e| Uncacheable::unreadable(p.display(), e))?;
            if !ty.is_symlink() || seen.insert(real) {
                list(root, &p, skip, seen, out)?;
            }
        } else if meta.is_file() {
            out.push((rel, p, mode));
        } else {
            let kind = meta.file_type();
            let what = if kind.is_fifo() {
                "fifo"
            } else if kind.is_socket() {
                "socket"
            } else {
                "device"
            };
            out.push((format!("{rel} ({what})"), PathBuf::new(), mode));
        }
        if out.len() > MAX_FILES_PER_FOLDER {
            return Err(Uncacheable::TooManyFiles { folder: root.display().to_string(), limit: MAX_FILES_PER_FOLDER });
        }
    }
    Ok(())
}

type Stamp = (PathBuf, u64, u64, u64, i64, i64, i64, i64);
static PROGRAMS: Mutex<Option<HashMap<Stamp, String>>> = Mutex::new(None);

/// The content digest of the program `word` runs (found on `path_var` as a shell would; a
/// word with a `/` is that file, runnable or not: a script an interpreter reads), with the
/// path it resolves to; `None` when there is no such program.
pub fn program_digest(word: &str, path_var: &std::ffi::OsStr) -> Option<String> {
    let found = match word.contains('/') {
        true => Some(PathBuf::from(word)).filter(|p| p.is_file()),
        false => crate::tools::process::which_in(word, path_var),
    }?;
    let real = std::fs::canonicalize(&found).unwrap_or(found);
    let m = std::fs::metadata(&real).ok()?;
    let stamp: Stamp = (real.clone(), m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec());
    if let Some(d) = PROGRAMS.lock().expect("programs").as_ref().and_then(|memo| memo.get(&stamp)) {
        return Some(d.clone());
    }
    let digest = format!("{}:{}", real.display(), file_hash(&real).ok()?);
    PROGRAMS.lock().expect("programs").get_or_insert_with(HashMap::new).insert(stamp, digest.clone());
    Some(digest)
}
