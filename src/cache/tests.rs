use super::key::{key, KeyParts};
use super::store::Store;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;

fn inputs(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn k(inputs: &Map<String, Value>, run_dir: &Path) -> String {
    key(&KeyParts { tool: "t", action: "a", fingerprint: "1", inputs, identity: None, run_dir, known: None }).unwrap()
}

#[test]
fn keys_ignore_the_run_folder_and_follow_file_content_not_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("runs/a"), dir.path().join("runs/b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let src = dir.path().join("in.txt");
    std::fs::write(&src, "one").unwrap();
    let ia = inputs(json!({"input": src, "output": format!("{}/out.txt", a.display())}));
    let ib = inputs(json!({"input": src, "output": format!("{}/out.txt", b.display())}));
    assert_eq!(k(&ia, &a), k(&ib, &b), "the same step in another run folder");
    let before = k(&ia, &a);
    let mtime = std::fs::metadata(&src).unwrap().modified().unwrap();
    std::fs::write(&src, "two").unwrap();
    std::fs::File::options().write(true).open(&src).unwrap().set_modified(mtime).unwrap();
    assert_ne!(k(&ia, &a), before, "new content, same mtime: a new key");
    std::fs::write(&src, "one").unwrap();
    assert_eq!(k(&ia, &a), before, "the old content again: the old key");
    let other = key(&KeyParts {
        tool: "t",
        action: "a",
        fingerprint: "1",
        inputs: &ia,
        identity: Some(&json!("sha256:beef")),
        run_dir: &a,
        known: None,
    });
    assert_ne!(other.unwrap(), before, "a model's identity is part of the key");
}

#[test]
fn put_lookup_restore_and_a_broken_entry_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let run = dir.path().join("run1");
    std::fs::create_dir_all(run.join("out")).unwrap();
    std::fs::write(run.join("out/a.png"), b"png bytes").unwrap();
    let outputs = inputs(json!({"output": format!("{}/out/a.png", run.display()), "n": 3}));
    assert!(store.put("ab12", ("r1", "s", "t", "a"), &outputs, &run, &HashMap::new()).unwrap());
    let run2 = dir.path().join("run2");
    let entry = store.lookup("ab12").unwrap();
    let restored = store.restore(&entry, &run2).unwrap();
    assert_eq!(restored["output"], json!(format!("{}/out/a.png", run2.display())));
    assert_eq!(std::fs::read(run2.join("out/a.png")).unwrap(), b"png bytes");
    // An object cut short (a crash, a full disk): the entry is dropped, not served.
    let object = dir.path().join("cache/objects").read_dir().unwrap().next().unwrap().unwrap().path();
    let file = object.read_dir().unwrap().next().unwrap().unwrap().path();
    std::fs::write(&file, b"png").unwrap();
    assert!(store.lookup("ab12").is_none());
    assert!(store.lookup("ab12").is_none(), "and stays gone");
    // A half-written entry file is not served either.
    std::fs::create_dir_all(dir.path().join("cache/entries/cd")).unwrap();
    std::fs::write(dir.path().join("cache/entries/cd/cd34.json"), b"{\"key\": \"cd34\", \"outp").unwrap();
    assert!(store.lookup("cd34").is_none());
}

#[test]
fn files_made_outside_the_run_folder_are_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let outside = dir.path().join("elsewhere.txt");
    std::fs::write(&outside, "x").unwrap();
    let outputs = inputs(json!({"path": outside}));
    assert!(!store.put("ef56", ("r", "s", "t", "a"), &outputs, &run, &HashMap::new()).unwrap());
    let read: HashMap<String, String> = [(outside.display().to_string(), super::key::file_hash(&outside).unwrap())].into();
    assert!(store.put("ef56", ("r", "s", "t", "a"), &outputs, &run, &read).unwrap(), "an input file it only read is fine");
}

#[test]
fn eviction_keeps_the_store_under_its_limit_least_recently_used_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: 3000 }; // two entries: 2 × 1000 bytes of files and their own JSON
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    for (i, key) in ["aa01", "aa02", "aa03", "aa04"].iter().enumerate() {
        let f = run.join(format!("f{i}"));
        std::fs::write(&f, vec![i as u8; 1000]).unwrap();
        store.put(key, ("r", "s", "t", "a"), &inputs(json!({"f": f})), &run, &HashMap::new()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(store.lookup("aa01").is_some(), "used just now: the newest");
    store.evict().unwrap();
    let stats = store.stats();
    assert!(stats["bytes"].as_u64().unwrap() <= 3000, "{stats}");
    assert!(store.lookup("aa01").is_some() && store.lookup("aa04").is_some());
    assert!(store.lookup("aa02").is_none() && store.lookup("aa03").is_none());
    let objects = || -> usize {
        std::fs::read_dir(dir.path().join("cache/objects")).unwrap().map(|d| d.unwrap().path().read_dir().unwrap().count()).sum()
    };
    assert_eq!(objects(), 4, "unreferenced objects younger than the grace period stay (another put may be about to name them)");
    assert_eq!(store.clear(None).unwrap(), 2);
    assert_eq!((store.stats()["entries"].as_u64(), objects()), (Some(0), 0), "`cache clear` removes them at once");
}

#[test]
fn the_step_decides_then_the_recipe_then_the_tool() {
    use super::wanted;
    assert!(wanted(Some(true), Some(false), false));
    assert!(!wanted(Some(false), None, true));
    assert!(!wanted(None, Some(false), true));
    assert!(wanted(None, None, true) && !wanted(None, Some(true), false));
}

#[test]
fn a_path_it_was_given_and_changed_counts_as_made() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let given = run.join("page.txt");
    std::fs::write(&given, "before").unwrap();
    let read: HashMap<String, String> = [(given.display().to_string(), super::key::file_hash(&given).unwrap())].into();
    std::fs::write(&given, "after").unwrap(); // the step edited it in place
    assert!(store.put("ab99", ("r", "s", "t", "a"), &inputs(json!({"path": given})), &run, &read).unwrap());
    let entry = store.lookup("ab99").unwrap();
    assert_eq!(entry.files.len(), 1, "kept, so a hit restores the edited file");
    let outside = dir.path().join("site.txt");
    std::fs::write(&outside, "before").unwrap();
    let read: HashMap<String, String> = [(outside.display().to_string(), super::key::file_hash(&outside).unwrap())].into();
    std::fs::write(&outside, "after").unwrap();
    assert!(
        !store.put("ab98", ("r", "s", "t", "a"), &inputs(json!({"path": outside})), &run, &read).unwrap(),
        "changed outside the run folder: not cached"
    );
}
