//! What a cache hit costs the cache itself, without the engine around it: the key, the
//! lookup and the restore of each step of an N-step `file_ops.write` chain (the shape of
//! `engine.rs`'s and `startup.py`'s), timed apart, as the step loop does them in place on
//! its async worker. `cargo bench --bench cache_hit -- 1000`; docs/benchmarks.md records
//! the results. Run with `TMPDIR=/dev/shm` to leave the disk out.

use localforge::cache::capture::capture;
use localforge::cache::in_place::InPlace;
use localforge::cache::key::{key_and_files, key_and_files_within, Context, KeyParts};
use localforge::cache::store::Store;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Step `i`'s inputs in the run folder `run`, as the chain renders them.
fn inputs(run: &Path, i: usize) -> Map<String, Value> {
    let temp = run.join("temp");
    let content = if i == 0 { "first".to_string() } else { format!("prev={}/f{}.txt", temp.display(), i - 1) };
    json!({"path": format!("{}/f{i}.txt", temp.display()), "content": content}).as_object().cloned().unwrap()
}

/// What the step loop hands the key: the run's temp folder, the recipe's and the process's.
fn context(run: &Path, recipe_dir: &Path, i: usize) -> Context {
    let bases = vec![run.join("temp"), recipe_dir.to_path_buf(), std::env::current_dir().unwrap()];
    // `file_ops.write`'s `content` names no files (`Tool::names_no_files`).
    let text_only = vec!["content".to_string()];
    Context { bases, upstream: vec![(format!("s{}", i.saturating_sub(1)), "digest".into())], text_only, ..Context::default() }
}

fn parts<'a>(i: &'a Map<String, Value>, run: &'a Path, c: &'a Context) -> KeyParts<'a> {
    KeyParts { tool: "file_ops", action: "write", fingerprint: "1", inputs: i, identity: None, run_dir: run, known: None, context: c }
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let recipe_dir = dir.path().join("recipe");
    std::fs::create_dir_all(&recipe_dir).unwrap();
    // Fill: each step runs (writes its file) and is stored.
    let first = dir.path().join("runs/first");
    std::fs::create_dir_all(first.join("temp")).unwrap();
    for i in 0..n {
        let (inp, c) = (inputs(&first, i), context(&first, &recipe_dir, i));
        let (key, read) = key_and_files(&parts(&inp, &first, &c)).unwrap();
        let path = inp["path"].as_str().unwrap();
        std::fs::write(path, inp["content"].as_str().unwrap()).unwrap();
        let outputs = json!({"path": path}).as_object().cloned().unwrap();
        let made = capture(&outputs, &localforge::cache::relocate::Forms::of(&first), &read, &Default::default()).unwrap().made;
        store.put(&key, ("first", &format!("s{i}"), "file_ops", "write"), &outputs, &first, &made, true).unwrap();
        // file_ops.write: `Tool::relocatable`
    }
    // Served: each step's key, lookup and restore in a new run folder, in place.
    let run = dir.path().join("runs/again"); // as long as `first`: a key holds the length
    std::fs::create_dir_all(run.join("temp")).unwrap();
    let (mut keyed, mut looked, mut restored) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for i in 0..n {
        let (inp, c) = (inputs(&run, i), context(&run, &recipe_dir, i));
        let t = Instant::now();
        let (key, _) = key_and_files_within(&parts(&inp, &run, &c), &InPlace::bounded()).unwrap();
        let t1 = Instant::now();
        let entry = store.lookup_within(&key, &InPlace::bounded()).unwrap().expect("a hit");
        let t2 = Instant::now();
        store.restore_within(&entry, &run, &InPlace::bounded()).unwrap();
        let t3 = Instant::now();
        (keyed, looked, restored) = (keyed + (t1 - t), looked + (t2 - t1), restored + (t3 - t2));
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "steps={n} per hit: key={:.1}µs lookup={:.1}µs restore={:.1}µs total={:.1}µs",
        per(keyed),
        per(looked),
        per(restored),
        per(keyed + looked + restored)
    );
}
