//! LocalForge's own data (`~/.localforge`, the history database, the step cache) is for
//! its user alone: folders are made 0700 and files 0600 whatever the umask, so another
//! local user can neither read past runs nor put objects into the cache. Folders that
//! already exist are left as they are, except `~/.localforge` itself, which is tightened:
//! everything LocalForge keeps there is then out of other users' reach, however an older
//! version made it.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `~/.localforge`.
pub fn home_dir() -> PathBuf {
    super::home().join(".localforge")
}

/// Make `path` and any missing parents, each new one 0700.
pub fn create_dir(path: &Path) -> io::Result<()> {
    if !path.is_dir() {
        DirBuilder::new().recursive(true).mode(0o700).create(path)?;
    }
    let home = home_dir();
    if path.starts_with(&home) {
        tighten(&home);
    }
    Ok(())
}

/// Best effort: a folder of another user's, or on a file system without modes, stays.
fn tighten(dir: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(dir) {
        if meta.is_dir() && meta.permissions().mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
}

/// Create (or truncate) `path` as a 0600 file; its folder is made by `create_dir`.
pub fn create_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// Make `path` an empty 0600 file when there is none (a database SQLite then opens; its
/// journal and WAL files take the database file's mode).
pub fn touch(path: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
    }
}

/// A name no other writer picks for a temporary file in `dir`: `.<stem>.<pid>.<n>`, `n` a
/// random number drawn once per process plus a count: the pid tells live processes apart,
/// the random start a dead one's leftovers under a reused pid, the count this process's
/// own names (one `getrandom` per process, not per file: every cache hit makes one).
pub fn temp_name(dir: &Path, stem: &str) -> PathBuf {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let start = *START.get_or_init(|| {
        let mut r = [0u8; 8];
        let _ = getrandom::fill(&mut r);
        u64::from_le_bytes(r)
    });
    let n = start.wrapping_add(COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    dir.join(format!(".{stem}.{}.{n:016x}", std::process::id()))
}

/// Write `data` to `path` through a 0600 temporary file beside it, renamed in: a reader
/// sees the old content or the new, never part of it.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    write_atomic_via(path, &temp_name(path.parent().unwrap_or(Path::new(".")), &name), data)
}

/// [`write_atomic`] through the temporary file `tmp` (on the same file system as `path`),
/// which is removed when anything fails. No fsync: every file written so is one that a
/// reader checks (a cache entry, a version memo), where a power cut costs a re-run, and
/// syncing each step's cache entry cost 15 ms.
pub fn write_atomic_via(path: &Path, tmp: &Path, data: &[u8]) -> io::Result<()> {
    let result = create_file(tmp).and_then(|mut f| io::Write::write_all(&mut f, data)).and_then(|_| std::fs::rename(tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_private_under_umask_000() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: umask is process-wide; this test only widens what others would create.
        let old = unsafe { libc::umask(0) };
        let nested = dir.path().join("a/b/c");
        create_dir(&nested).unwrap();
        let file = nested.join("f");
        write_atomic(&file, b"x").unwrap();
        touch(&nested.join("db")).unwrap();
        unsafe { libc::umask(old) };
        assert_eq!([mode(&dir.path().join("a")), mode(&nested), mode(&file), mode(&nested.join("db"))], [0o700, 0o700, 0o600, 0o600]);
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
    }
}
