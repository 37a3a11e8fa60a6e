//! What a folder's content hash costs (`cache::files::content_hash`, the key of a step
//! that names a folder): N small files in nested folders, best of 5.
//! `cargo bench --bench cache_folder -- 5000` (files). docs/benchmarks.md records the results.

use localforge::cache::files;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    for i in 0..n {
        let sub = root.join(format!("d{}/e{}", i % 50, i % 7));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            files::content_hash(&root).unwrap().unwrap();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min);
    println!("{n} files: content_hash {:.1} ms ({:.2} µs a file)", best * 1000.0, best * 1e6 / n as f64);
}
