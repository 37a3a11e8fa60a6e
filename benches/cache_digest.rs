//! What verifying the step cache's objects costs: restoring one file of N MB from the
//! store (copy, SHA-256 of the copy, rename), against the copy alone, and the SHA-256 alone.
//! `cargo bench --bench cache_digest -- 256` (MB). docs/benchmarks.md records the results.

use localforge::cache::capture::capture;
use localforge::cache::store::Store;
use localforge::cache::{files, snapshot};
use std::time::Instant;

fn main() {
    let mb: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(256);
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let before = snapshot::take(&run).unwrap();
    let data: Vec<u8> = (0..mb * 1024 * 1024).map(|i| ((i * 2654435761usize) >> 13) as u8).collect();
    std::fs::write(run.join("big.bin"), &data).unwrap();
    drop(data);
    let outputs = serde_json::Map::new();
    let made =
        capture(&outputs, &localforge::cache::relocate::Forms::of(&run), &Default::default(), &snapshot::changes(&before, &run).unwrap())
            .unwrap()
            .made;
    store.put("ab00", ("r", "s", "t", "a"), &outputs, &run, &made, false).unwrap();
    let entry = store.lookup("ab00").unwrap();
    let object = dir.path().join("cache/objects").join(&entry.files[0].sha256[..2]).join(&entry.files[0].sha256);
    let best = |f: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let copy = best(&mut || {
        std::fs::copy(&object, dir.path().join("copy.bin")).unwrap();
    });
    let hash = best(&mut || {
        files::file_hash(&object).unwrap();
    });
    let run2 = dir.path().join("run2");
    let restore = best(&mut || {
        store.restore(&entry, &run2).unwrap();
    });
    let ms_per_mb = |s: f64| s * 1000.0 / mb as f64;
    println!(
        "{mb} MB: copy {:.3} ms/MB, sha256 {:.3} ms/MB, restore (copy + verify + rename) {:.3} ms/MB",
        ms_per_mb(copy),
        ms_per_mb(hash),
        ms_per_mb(restore)
    );
}
