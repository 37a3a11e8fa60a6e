//! A file a step made that holds the run folder's path. A key writes the run folder
//! `{run_dir}` (the same step of another run has the same key) and a hit's outputs get the
//! new run's folder back; a file a hit restores must too, or a step that wrote
//! `{{ workflow.run_dir }}` into a file would hand the next run a file naming the last
//! run's folder, where running it would name its own.
//!
//! Only a tool that says the path is all a file holds of the run folder (`Tool::relocatable`:
//! `file_ops.write`, whose file is its `content`) has such a file kept as text with the path
//! written `{run_dir}`, to get the new run's folder when it is restored — exactly what it
//! writes there (the key holds the run folder's length, so no length in or beside the file
//! changes). Any other step that made a file holding the path is not stored: what else it
//! made from the path (a checksum of the file, its size in a manifest) would not follow it.
//! Nor is one whose file holds the path written another way (UTF-16, JSON- or
//! URL-escaped, Latin-1), or holds `{run_dir}` itself. The step then runs.

use super::Uncacheable;
use memchr::memmem;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// How the run folder is written in what the store keeps.
pub const PLACEHOLDER: &str = "{run_dir}";
/// Longest file written with `{run_dir}`: it is read whole, when stored and when restored.
pub const MAX: u64 = 1 << 20;

/// The run folder, and the ways a file may hold its path: as it is (UTF-8), and written
/// otherwise. Made once for a step that is stored: its outputs and its files are both
/// looked through (`capture`, `Store::put_files`).
pub struct Forms {
    pub dir: std::path::PathBuf,
    pub plain: Vec<u8>,
    pub other: Vec<Vec<u8>>,
}

impl Forms {
    pub fn of(run_dir: &Path) -> Forms {
        use std::os::unix::ffi::OsStrExt;
        let plain = run_dir.as_os_str().as_bytes().to_vec();
        let text = run_dir.to_string_lossy().to_string();
        let mut other: Vec<Vec<u8>> = vec![
            text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            text.replace('/', "\\/").into_bytes(), // JSON with `/` escaped
        ];
        let json = serde_json::to_string(&text).unwrap_or_default();
        other.push(json.as_bytes()[1..json.len() - 1].to_vec()); // JSON with quotes and backslashes escaped
        let ascii: String = text.chars().map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) }).collect();
        other.push(ascii.replace('/', "\\/").into_bytes()); // and `/` escaped too (PHP's default)
        other.push(ascii.into_bytes()); // JSON with ASCII only (Python's default)
        if text.chars().all(|c| (c as u32) < 0x100) {
            other.push(text.chars().map(|c| c as u8).collect()); // Latin-1
        }
        let url: String = plain
            .iter()
            .map(|&b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        other.push(url.into_bytes());
        // Through its real path (a resumed run keeps the folder it was given, links and all).
        if let Ok(real) = std::fs::canonicalize(run_dir) {
            other.push(real.as_os_str().as_bytes().to_vec());
        }
        other.retain(|f| !f.is_empty() && *f != plain);
        other.sort();
        other.dedup();
        Forms { dir: run_dir.to_path_buf(), plain, other }
    }

    /// Whether a text in `values` holds the run folder's path written another way.
    pub fn written_otherwise(&self, values: &serde_json::Map<String, serde_json::Value>) -> bool {
        any_text(values, &|s| self.other.iter().any(|o| memmem::find(s.as_bytes(), o).is_some()))
    }

    fn all(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(self.plain.as_slice()).chain(self.other.iter().map(Vec::as_slice))
    }
}

/// What to store of `data`, a file `rel` a step made in the run folder: `None` to store it
/// as it is (it does not hold the path); the text with the path written `{run_dir}` (a
/// `relocatable` tool's text that holds it as it is); or why a hit could not give it back.
pub fn normalize(data: &[u8], forms: &Forms, rel: &str, relocatable: bool) -> Result<Option<Vec<u8>>, Uncacheable> {
    let refuse = |why: &str| Err(Uncacheable::HoldsRunFolder { rel: rel.to_string(), why: why.to_string() });
    if forms.plain.is_empty() {
        return Ok(None);
    }
    if forms.other.iter().any(|f| memmem::find(data, f).is_some()) {
        return refuse("holds the run folder's path written another way (UTF-16, escaped or Latin-1)");
    }
    if memmem::find(data, &forms.plain).is_none() {
        return Ok(None);
    }
    if !relocatable {
        return refuse("holds the run folder's path, and what else the step made of it would not follow it");
    }
    if data.len() as u64 > MAX {
        return Err(too_big(rel));
    }
    if data.contains(&0) || std::str::from_utf8(data).is_err() {
        return refuse("holds the run folder's path and is not text");
    }
    if memmem::find(data, PLACEHOLDER.as_bytes()).is_some() {
        return refuse("holds the run folder's path and the text `{run_dir}` itself");
    }
    Ok(Some(replace(data, &forms.plain, PLACEHOLDER.as_bytes())))
}

/// Why `rel`, over `MAX` bytes and holding the run folder's path, is not stored.
pub fn too_big(rel: &str) -> Uncacheable {
    Uncacheable::HoldsRunFolder { rel: rel.to_string(), why: "holds the run folder's path and is over 1 MiB".into() }
}

/// Whether a text in `values` (keys left out, as a key and an entry leave them as they are)
/// holds `{run_dir}`.
pub fn holds_placeholder(values: &serde_json::Map<String, serde_json::Value>) -> bool {
    any_text(values, &|s| s.contains(PLACEHOLDER))
}

/// Whether `f` holds for a text anywhere in `values` (keys left out), without copying them
/// out as `key::strings` does.
fn any_text(values: &serde_json::Map<String, serde_json::Value>, f: &dyn Fn(&str) -> bool) -> bool {
    fn any(v: &serde_json::Value, f: &dyn Fn(&str) -> bool) -> bool {
        match v {
            serde_json::Value::String(s) => f(s),
            serde_json::Value::Array(a) => a.iter().any(|x| any(x, f)),
            serde_json::Value::Object(m) => m.values().any(|x| any(x, f)),
            _ => false,
        }
    }
    values.values().any(|v| any(v, f))
}

/// A stored text with `{run_dir}` written as the run folder `run_dir` again.
pub fn localize(data: &[u8], run_dir: &[u8]) -> Vec<u8> {
    replace(data, PLACEHOLDER.as_bytes(), run_dir)
}

/// The SHA-256 of all `r` reads, and whether it holds the run folder's path in any of
/// `forms` (across the reads' seams): a file too big to read whole is hashed and searched
/// in one pass.
pub fn hash_and_find(r: &mut dyn Read, forms: &Forms) -> std::io::Result<(String, bool)> {
    let finders: Vec<memmem::Finder<'_>> = forms.all().filter(|f| !f.is_empty()).map(memmem::Finder::new).collect();
    let keep = forms.all().map(<[u8]>::len).max().unwrap_or(0).saturating_sub(1);
    let (mut h, mut found) = (Sha256::new(), false);
    // The last `keep` bytes of the previous read, then this read.
    let mut buf = vec![0u8; keep + (1 << 16)];
    let mut carried = 0;
    loop {
        let n = r.read(&mut buf[carried..])?;
        if n == 0 {
            break;
        }
        h.update(&buf[carried..carried + n]);
        let filled = carried + n;
        found = found || finders.iter().any(|f| f.find(&buf[..filled]).is_some());
        carried = keep.min(filled);
        buf.copy_within(filled - carried..filled, 0);
    }
    Ok((crate::digest::hex(&h.finalize()), found))
}

fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut last = 0;
    for at in memmem::find_iter(data, from) {
        out.extend_from_slice(&data[last..at]);
        out.extend_from_slice(to);
        last = at + from.len();
    }
    out.extend_from_slice(&data[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(r: Result<Option<Vec<u8>>, Uncacheable>) -> String {
        match r {
            Err(Uncacheable::HoldsRunFolder { why, .. }) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_relocatable_text_holding_the_run_folder_is_kept_with_a_placeholder_and_comes_back_with_the_new_one() {
        let old = Forms::of(Path::new("/runs/20261207-1"));
        let text = b"here: /runs/20261207-1 and /runs/20261207-1/temp/f.txt\n";
        let stored = normalize(text, &old, "f.txt", true).unwrap().unwrap();
        assert_eq!(stored, b"here: {run_dir} and {run_dir}/temp/f.txt\n");
        assert_eq!(localize(&stored, b"/runs/20261207-2"), b"here: /runs/20261207-2 and /runs/20261207-2/temp/f.txt\n");
        assert_eq!(normalize(b"nothing of it", &old, "f", true).unwrap(), None, "kept as it is");
        assert_eq!(normalize(b"nothing of it", &old, "f", false).unwrap(), None, "kept as it is, whatever made it");
        assert!(why(normalize(text, &old, "f", false)).contains("what else the step made of it"), "a tool that does not say so");
        assert!(why(normalize(b"\x89PNG\0/runs/20261207-1", &old, "f", true)).contains("not text"));
        assert!(why(normalize(b"{run_dir} /runs/20261207-1", &old, "f", true)).contains("`{run_dir}` itself"));
        let mut big = vec![b'a'; MAX as usize];
        big.extend_from_slice(&old.plain);
        assert!(why(normalize(&big, &old, "f", true)).contains("over 1 MiB"));
    }

    #[test]
    fn the_run_folder_written_another_way_is_refused() {
        let forms = Forms::of(Path::new("/home/jos\u{e9}/my runs/r1"));
        let written = [
            "/home/jos\u{e9}/my runs/r1".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>(),
            "/home/jos\u{e9}/my runs/r1".encode_utf16().flat_map(u16::to_be_bytes).collect(),
            br#"{"dir": "\/home\/jos\u00e9\/my runs\/r1"}"#.to_vec(),
            br#"{"dir": "/home/jos\u00e9/my runs/r1"}"#.to_vec(),
            b"/home/jos\xe9/my runs/r1".to_vec(),
            b"file:///home/jos%C3%A9/my%20runs/r1/x".to_vec(),
        ];
        for data in written {
            assert!(why(normalize(&data, &forms, "f", true)).contains("written another way"), "{data:?}");
            assert!(hash_and_find(&mut data.as_slice(), &forms).unwrap().1, "{data:?}");
        }
        assert_eq!(normalize("in /home/jos\u{e9}/my runs/r1".as_bytes(), &forms, "f", true).unwrap().unwrap(), b"in {run_dir}");
    }

    #[test]
    fn a_run_folder_given_through_a_link_is_found_by_its_real_path_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("real/r1")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        let forms = Forms::of(&dir.path().join("link/r1"));
        let real = std::fs::canonicalize(dir.path().join("real/r1")).unwrap();
        let data = format!("pwd -P: {}", real.display());
        assert!(why(normalize(data.as_bytes(), &forms, "f", true)).contains("written another way"));
    }

    #[test]
    fn a_search_across_reads_finds_what_straddles_them() {
        struct Drip<'a>(&'a [u8], usize);
        impl Read for Drip<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.1.min(self.0.len()).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let data: Vec<u8> = [vec![b'x'; 70_000], b"/runs/abc".to_vec(), vec![b'y'; 100]].concat();
        for step in [1, 7, 65_536, 1 << 20] {
            let (hash, found) = hash_and_find(&mut Drip(&data, step), &Forms::of(Path::new("/runs/abc"))).unwrap();
            assert_eq!((hash.as_str(), found), (crate::digest::sha256_hex(&data).as_str(), true), "reads of {step}");
            assert!(!hash_and_find(&mut Drip(&data, step), &Forms::of(Path::new("/runs/abd"))).unwrap().1);
        }
    }
}
