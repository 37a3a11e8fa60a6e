//! A file a step made that holds the run folder's path. A key writes the run folder
//! `{run_dir}` (the same step of another run has the same key) and a hit's outputs get the
//! new run's folder back; a file a hit restores must too, or a step that wrote
//! `{{ workflow.run_dir }}` into a file would hand the next run a file naming the last
//! run's folder, where running it would name its own.
//!
//! Text is stored with the path written `{run_dir}` and gets the new run's folder when it
//! is restored: exactly what running it there writes. A file that holds the path and is not
//! text (a checksum or a length beside the path would not follow it), text that holds
//! `{run_dir}` itself (it could not be told from the path), and one over `MAX` bytes are not
//! stored at all: the step runs.

use super::Uncacheable;
use memchr::memmem;
use sha2::{Digest, Sha256};
use std::io::Read;

/// How the run folder is written in what the store keeps.
pub const PLACEHOLDER: &str = "{run_dir}";
/// Longest file written with `{run_dir}`: it is read whole, when stored and when restored.
pub const MAX: u64 = 1 << 20;

/// What to store of `data`, a file `rel` made in the run folder `run_dir`: `None` to store it
/// as it is (it does not hold the path); the text with the path written `{run_dir}`; or why
/// a hit could not give it back.
pub fn normalize(data: &[u8], run_dir: &[u8], rel: &str) -> Result<Option<Vec<u8>>, Uncacheable> {
    let refuse = |why: &str| Err(Uncacheable::HoldsRunFolder { rel: rel.to_string(), why: why.to_string() });
    if run_dir.is_empty() || memmem::find(data, run_dir).is_none() {
        // Text in UTF-16 (a Windows tool's) would hold it two bytes a character.
        let wide = |le: bool| -> Vec<u8> { run_dir.iter().flat_map(|&b| if le { [b, 0] } else { [0, b] }).collect() };
        if !run_dir.is_empty() && (memmem::find(data, &wide(true)).is_some() || memmem::find(data, &wide(false)).is_some()) {
            return refuse("UTF-16 text");
        }
        return Ok(None);
    }
    if data.len() as u64 > MAX {
        return Err(too_big(rel));
    }
    if data.contains(&0) || std::str::from_utf8(data).is_err() {
        return refuse("not text");
    }
    if memmem::find(data, PLACEHOLDER.as_bytes()).is_some() {
        return refuse("text that holds `{run_dir}` itself");
    }
    Ok(Some(replace(data, run_dir, PLACEHOLDER.as_bytes())))
}

/// Why `rel`, over `MAX` bytes and holding the run folder's path, is not stored.
pub fn too_big(rel: &str) -> Uncacheable {
    Uncacheable::HoldsRunFolder { rel: rel.to_string(), why: "over 1 MiB".into() }
}

/// Whether a text in `values` (keys left out, as a key and an entry leave them as they are)
/// holds `{run_dir}`.
pub fn holds_placeholder(values: &serde_json::Map<String, serde_json::Value>) -> bool {
    fn holds(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains(PLACEHOLDER),
            serde_json::Value::Array(a) => a.iter().any(holds),
            serde_json::Value::Object(m) => m.values().any(holds),
            _ => false,
        }
    }
    values.values().any(holds)
}

/// A stored text with `{run_dir}` written as the run folder `run_dir` again.
pub fn localize(data: &[u8], run_dir: &[u8]) -> Vec<u8> {
    replace(data, PLACEHOLDER.as_bytes(), run_dir)
}

/// The SHA-256 of all `r` reads, and whether `needle` is in it (across the reads' seams):
/// a file too big to read whole is hashed and searched in one pass.
pub fn hash_and_find(r: &mut dyn Read, needle: &[u8]) -> std::io::Result<(String, bool)> {
    let finder = memmem::Finder::new(needle);
    let keep = needle.len().saturating_sub(1);
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
        found = found || (!needle.is_empty() && finder.find(&buf[..filled]).is_some());
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

    #[test]
    fn text_holding_the_run_folder_is_written_with_a_placeholder_and_comes_back_with_the_new_one() {
        let (old, new) = (b"/runs/20261207-1".as_slice(), b"/elsewhere/runs/20261207-2".as_slice());
        let text = b"here: /runs/20261207-1 and /runs/20261207-1/temp/f.txt\n";
        let stored = normalize(text, old, "f.txt").unwrap().unwrap();
        assert_eq!(stored, b"here: {run_dir} and {run_dir}/temp/f.txt\n");
        assert_eq!(localize(&stored, new), b"here: /elsewhere/runs/20261207-2 and /elsewhere/runs/20261207-2/temp/f.txt\n");
        assert_eq!(normalize(b"nothing of it", old, "f").unwrap(), None, "kept as it is");
        let refused = |data: &[u8]| match normalize(data, old, "f") {
            Err(Uncacheable::HoldsRunFolder { why, .. }) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(b"\x89PNG\0/runs/20261207-1"), "not text");
        let utf16: Vec<u8> = "a /runs/20261207-1".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(refused(&utf16), "UTF-16 text");
        assert_eq!(refused(b"{run_dir} /runs/20261207-1"), "text that holds `{run_dir}` itself");
        let mut big = vec![b'a'; MAX as usize];
        big.extend_from_slice(old);
        assert_eq!(refused(&big), "over 1 MiB");
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
            let (hash, found) = hash_and_find(&mut Drip(&data, step), b"/runs/abc").unwrap();
            assert_eq!((hash.as_str(), found), (crate::digest::sha256_hex(&data).as_str(), true), "reads of {step}");
            assert!(!hash_and_find(&mut Drip(&data, step), b"/runs/abd").unwrap().1);
        }
    }
}
