//! An object copied out of the store into a run folder, checked against its SHA-256 on the
//! way. A small object is read whole, checked and written: a cache hit of a small file
//! costs ten system calls instead of fifteen for a copy and a read back. A big one is
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
/// `mode`; the SHA-256 of what `dest` now holds.
pub fn copy_checked(object: &Path, dest: &Path, mode: u32) -> std::io::Result<String> {
    let mut src = File::open(object)?;
    let len = src.metadata()?.len();
    let mut out = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(dest)?;
    // Exactly `mode` (the umask cut what `open` made): set on the open file, so writing goes on.
    out.set_permissions(std::fs::Permissions::from_mode(mode))?;
    if len <= SMALL {
        let mut data = Vec::with_capacity(len as usize + 1);
        src.read_to_end(&mut data)?;
        out.write_all(&data)?;
        return Ok(sha256_hex(&data));
    }
    if !reflink(&src, &out) {
        std::io::copy(&mut src, &mut out)?;
    }
    drop(out);
    file_hash(dest)
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
            let hash = copy_checked(&object, &dest, 0o751).unwrap();
            assert_eq!(hash, sha256_hex(&data), "{name}");
            assert_eq!(std::fs::read(&dest).unwrap(), data, "{name}");
            assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777, 0o751, "{name}");
            // An existing file is never written over: the caller names a fresh one.
            assert!(copy_checked(&object, &dest, 0o600).is_err(), "{name}");
        }
    }
}
