//! An object copied out of the store into a run folder, checked against its SHA-256 on the
//! way. A small object is read whole and checked, then written: a cache hit of a small
//! file costs seven system calls (open, read, close; open, `fchmod`, write, close)
//! instead of fifteen for a copy and a read back. A big one is
//! cloned where the filesystem shares extents (a reflink: `FICLONE` on btrfs, XFS,
//! bcachefs), else copied (`copy_file_range`, in the kernel), and the copy is read back.

use super::files::file_hash;
use crate::digest::sha256_hex;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Objects up to this size are read whole into memory.
const SMALL: u64 = 1 << 20;

/// Copy `object` to `dest`, a file made for it (it must not exist), with permission bits
/// `mode`, when it holds `len` bytes of SHA-256 `sha256`; `Ok(false)` when it does not (a
/// small object is checked before `dest` is made, so then there is none; a big one's copy
/// is left for the caller to remove). `relocate`: the object is text with the run folder
/// written `{run_dir}`, and `dest` gets this run folder there (`cache::relocate`).
pub fn copy_checked(object: &Path, dest: &Path, mode: u32, (sha256, len): (&str, u64), relocate: Option<&[u8]>) -> std::io::Result<bool> {
    let mut src = File::open(object)?;
    if relocate.is_some() && len > super::relocate::MAX {
        return Ok(false); // never stored so: the entry is damaged
    }
    if len <= SMALL {
        // Exactly `len` bytes, in one `read`, no look for the end: what is written is what
        // the entry's SHA-256 vouches for, whatever may follow it in a damaged object.
        let mut data = vec![0u8; len as usize];
        match src.read_exact(&mut data) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
            other => other?,
        }
        if sha256_hex(&data) != sha256 {
            return Ok(false);
        }
        if let Some(run_dir) = relocate {
            data = super::relocate::localize(&data, run_dir);
        }
        return create(dest, mode)?.write_all(&data).map(|_| true);
    }
    let mut out = create(dest, mode)?;
    if !reflink(&src, &out) {
        std::io::copy(&mut src, &mut out)?;
    }
    drop(out);
    Ok(file_hash(dest)? == sha256)
}

/// `dest`, new, with exactly `mode` (the umask cut what `open` made): set on the open file,
/// so writing goes on.
fn create(dest: &Path, mode: u32) -> std::io::Result<File> {
    let out = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(dest)?;
    out.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(out)
}

/// Make `dest` share `src`'s extents; false where the filesystem cannot (then copy).
#[cfg(target_os = "linux")]
fn reflink(src: &File, dest: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: both descriptors are open for as long as the call; FICLONE reads only them.
    unsafe { libc::ioctl(dest.as_raw_fd(), libc::FICLONE, src.as_raw_fd()) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn reflink(_src: &File, _dest: &File) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_big_objects_arrive_whole_with_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        for (name, len) in [("small", 5usize), ("big", (SMALL as usize) + 3)] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let object = dir.path().join(format!("{name}.obj"));
            std::fs::write(&object, &data).unwrap();
            let dest = dir.path().join(format!("{name}.out"));
            let good = (sha256_hex(&data), len as u64);
            assert!(copy_checked(&object, &dest, 0o751, (&good.0, good.1), None).unwrap(), "{name}");
            assert_eq!(std::fs::read(&dest).unwrap(), data, "{name}");
            assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777, 0o751, "{name}");
            // An existing file is never written over: the caller names a fresh one.
            assert!(copy_checked(&object, &dest, 0o600, (&good.0, good.1), None).is_err(), "{name}");
            // Not what the entry says it holds: refused, and a small one is not written at all.
            let other = dir.path().join(format!("{name}.other"));
            assert!(!copy_checked(&object, &other, 0o600, (&sha256_hex(b"else"), good.1), None).unwrap(), "{name}");
            assert_eq!(other.exists(), name == "big", "{name}");
            // Shorter than the entry says: a small one is read by its length (a big one by its
            // hash alone, its size checked by `lookup`).
            let short = dir.path().join(format!("{name}.short"));
            assert_eq!(copy_checked(&object, &short, 0o600, (&good.0, good.1 + 1), None).unwrap(), name == "big", "{name}");
        }
    }
}
