use super::capture::{capture, Made};
use super::in_place::InPlace;
use super::key::{key, Context, KeyParts};
use super::relocate::Forms;
use super::snapshot;
use super::store::Store;
use super::Uncacheable;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;

fn inputs(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn k(inputs: &Map<String, Value>, run_dir: &Path) -> String {
    kc(inputs, run_dir, &Context::default())
}

/// The key's parts for tool `t.a` (version 1) with these inputs, run folder and context.
fn parts<'a>(inputs: &'a Map<String, Value>, run_dir: &'a Path, context: &'a Context) -> KeyParts<'a> {
    KeyParts { tool: "t", action: "a", fingerprint: "1", inputs, identity: None, run_dir, known: None, context }
}

fn kc(inputs: &Map<String, Value>, run_dir: &Path, context: &Context) -> String {
    key(&parts(inputs, run_dir, context)).unwrap()
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
    let context = Context::default();
    let other = key(&KeyParts { identity: Some(&json!("sha256:beef")), ..parts(&ia, &a, &context) });
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
    let made = capture(&outputs, &Forms::of(&run), &HashMap::new(), &Default::default()).unwrap().made;
    store.put("ab12", ("r1", "s", "t", "a"), &outputs, &run, &made, false).unwrap();
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
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let outside = dir.path().join("elsewhere.txt");
    std::fs::write(&outside, "x").unwrap();
    let outputs = inputs(json!({"path": outside}));
    let why = capture(&outputs, &Forms::of(&run), &HashMap::new(), &Default::default()).unwrap_err();
    assert!(matches!(why, Uncacheable::NamesOutside(_)), "{why}");
    let read: HashMap<String, String> = [(outside.display().to_string(), super::key::file_hash(&outside).unwrap())].into();
    assert_eq!(
        capture(&outputs, &Forms::of(&run), &read, &Default::default()).map(|c| c.made),
        Ok(Made::default()),
        "an input file it only read is fine"
    );
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
        let outputs = inputs(json!({"f": f}));
        let made = capture(&outputs, &Forms::of(&run), &HashMap::new(), &Default::default()).unwrap().made;
        store.put(key, ("r", "s", "t", "a"), &outputs, &run, &made, false).unwrap();
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
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let given = run.join("page.txt");
    std::fs::write(&given, "before").unwrap();
    let read: HashMap<String, String> = [(given.display().to_string(), super::key::file_hash(&given).unwrap())].into();
    let before = snapshot::take(&run).unwrap();
    std::fs::write(&given, "after").unwrap(); // the step edited it in place
    let changes = snapshot::changes(&before, &run).unwrap();
    let made = capture(&inputs(json!({"path": given})), &Forms::of(&run), &read, &changes).unwrap().made;
    assert_eq!(made.files.iter().collect::<Vec<_>>(), ["page.txt"], "kept, so a hit restores the edited file");
    let outside = dir.path().join("site.txt");
    std::fs::write(&outside, "before").unwrap();
    let read: HashMap<String, String> = [(outside.display().to_string(), super::key::file_hash(&outside).unwrap())].into();
    std::fs::write(&outside, "after").unwrap();
    let why = capture(&inputs(json!({"path": outside})), &Forms::of(&run), &read, &Default::default()).unwrap_err();
    assert_eq!(why, Uncacheable::InputChanged(outside.display().to_string()), "changed outside the run folder: not cached");
}

#[test]
fn every_file_a_text_names_counts_absolute_or_relative_and_folders_too() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let work = dir.path().join("work");
    std::fs::create_dir_all(work.join("data")).unwrap();
    std::fs::create_dir_all(&run).unwrap();
    let abs = dir.path().join("in.txt");
    std::fs::write(&abs, "one").unwrap();
    std::fs::write(work.join("rel.txt"), "one").unwrap();
    std::fs::write(work.join("data/a"), "one").unwrap();
    std::fs::write(work.join("with space.txt"), "one").unwrap();
    let context = Context { bases: vec![work.clone()], ..Default::default() };
    let texts = [
        json!({"command": format!("cat {} | wc -c", abs.display())}),
        json!({"command": format!("tool --in={}", abs.display())}),
        json!({"command": ["sh", "-c", format!("cat '{}'", abs.display())]}),
        json!({"command": "cat rel.txt"}),
        json!({"command": "ls data"}),
        json!({"command": format!("cat \"{}\"", work.join("with space.txt").display())}),
    ];
    for t in texts {
        let i = inputs(t.clone());
        let before = kc(&i, &run, &context);
        for f in [abs.clone(), work.join("rel.txt"), work.join("data/a"), work.join("with space.txt")] {
            std::fs::write(&f, "two").unwrap();
        }
        assert_ne!(kc(&i, &run, &context), before, "{t}: a new content is a new key");
        for f in [abs.clone(), work.join("rel.txt"), work.join("data/a"), work.join("with space.txt")] {
            std::fs::write(&f, "one").unwrap();
        }
        assert_eq!(kc(&i, &run, &context), before, "{t}: the old content, the old key");
    }
    std::fs::write(work.join("data/b"), "").unwrap();
    let i = inputs(json!({"command": "ls data"}));
    let with_b = kc(&i, &run, &context);
    std::fs::remove_file(work.join("data/b")).unwrap();
    assert_ne!(kc(&i, &run, &context), with_b, "a file added to a folder changes the key");
}

#[test]
fn the_steps_before_the_programs_and_the_environment_are_part_of_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(json!({"x": 1}));
    let base = Context::default();
    let k0 = kc(&i, dir.path(), &base);
    let up = |d: &str| Context { upstream: vec![("a".into(), d.into())], ..Default::default() };
    assert_ne!(kc(&i, dir.path(), &up("1")), kc(&i, dir.path(), &up("2")), "another upstream result, another key");
    let env = |v: &str| Context { env: [("MODE".to_string(), v.to_string())].into(), ..Default::default() };
    assert_ne!(kc(&i, dir.path(), &env("production")), kc(&i, dir.path(), &env("dry-run")));
    let prog = dir.path().join("prog");
    std::fs::write(&prog, "#!/bin/sh\necho 1\n").unwrap();
    let mut perms = std::fs::metadata(&prog).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&prog, perms).unwrap();
    let with_prog = Context { programs: vec![prog.display().to_string()], ..Default::default() };
    let v1 = kc(&i, dir.path(), &with_prog);
    assert_ne!(v1, k0);
    std::fs::write(&prog, "#!/bin/sh\necho 2\n").unwrap(); // upgraded: same size, new content
    assert_ne!(kc(&i, dir.path(), &with_prog), v1, "a new version of the program, a new key");
}

#[test]
fn the_listing_sees_side_files_edits_of_the_same_size_removals_and_folders() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(run.join("temp")).unwrap();
    std::fs::create_dir_all(run.join("logs")).unwrap();
    std::fs::write(run.join("old.txt"), "aaaa").unwrap();
    std::fs::write(run.join("gone.txt"), "x").unwrap();
    let before = snapshot::take(&run).unwrap();
    std::fs::write(run.join("old.txt"), "bbbb").unwrap(); // same size, same second
    std::fs::write(run.join("temp/side.txt"), "data").unwrap();
    std::fs::create_dir_all(run.join("empty/inner")).unwrap();
    std::fs::remove_file(run.join("gone.txt")).unwrap();
    std::fs::write(run.join("logs/step.stdout.log"), "engine's own").unwrap();
    let c = snapshot::changes(&before, &run).unwrap();
    assert_eq!(c.made, ["old.txt", "temp/side.txt"]);
    assert_eq!(c.dirs, ["empty", "empty/inner"]);
    assert_eq!(c.removed, ["gone.txt"]);
    std::os::unix::fs::symlink("/etc/passwd", run.join("link")).unwrap();
    let c = snapshot::changes(&before, &run).unwrap();
    assert!(
        c.odd.is_some_and(|o| matches!(o, Uncacheable::Unkept { what, rel } if what.contains("link") && rel == "link")),
        "a link is not kept: the step is not stored"
    );
}

#[test]
fn beside_other_steps_each_change_goes_to_whoever_names_it_most_closely() {
    use super::capture::attribute;
    let made = |files: &[&str], dirs: &[&str]| Made {
        files: files.iter().map(|s| s.to_string()).collect(),
        dirs: dirs.iter().map(|s| s.to_string()).collect(),
        removed: Vec::new(),
    };
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // Four items writing into one new folder, `mkdir -p out && echo > out/ITEM.txt`.
    let mine = attribute(made(&["out/a.txt", "out/b.txt"], &["out"]), &v(&["out", "out/a.txt"]), &v(&["out", "out/b.txt"])).unwrap();
    assert_eq!(mine, made(&["out/a.txt"], &["out"]), "its own file and the folder both make; not the neighbour's file");
    let why = attribute(made(&["out/a.txt", "stray.txt"], &[]), &v(&["out/a.txt"]), &v(&["out/b.txt"])).unwrap_err();
    assert_eq!(why, Uncacheable::Unclaimed("stray.txt".into()));
    assert!(why.to_string().contains("`stray.txt`") && why.to_string().contains("neither it nor they name"), "{why}");
    let why = attribute(made(&["shared.txt"], &[]), &v(&["shared.txt"]), &v(&["shared.txt"])).unwrap_err();
    assert_eq!(why, Uncacheable::Shared("shared.txt".into()));
    let named = super::capture::named_in(&[&inputs(json!({"c": "mkdir -p /r/out && echo > /r/out/b.txt"}))], Path::new("/r"));
    assert_eq!(named, ["out", "out/b.txt"], "words of text that do not exist yet count as named");
}

#[test]
fn a_damaged_object_of_the_same_size_is_removed_and_not_restored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let run = dir.path().join("run1");
    std::fs::create_dir_all(&run).unwrap();
    let before = snapshot::take(&run).unwrap();
    std::fs::write(run.join("a.txt"), b"good bytes").unwrap();
    std::fs::write(run.join("b.txt"), b"more").unwrap();
    let outputs = inputs(json!({"n": 1}));
    let made = capture(&outputs, &Forms::of(&run), &HashMap::new(), &snapshot::changes(&before, &run).unwrap()).unwrap().made;
    store.put("ff00", ("r1", "s", "t", "a"), &outputs, &run, &made, false).unwrap();
    let entry = store.lookup("ff00").unwrap();
    assert_eq!(entry.files.len(), 2, "side files are kept");
    let object = dir.path().join("cache/objects").join(&entry.files[0].sha256[..2]).join(&entry.files[0].sha256);
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&object, bytes).unwrap();
    let run2 = dir.path().join("run2");
    let why = store.restore(&entry, &run2).unwrap_err();
    assert!(matches!(why, Uncacheable::Damaged(_)) && why.to_string().contains("damaged"), "{why}");
    assert!(!run2.join("a.txt").exists() && !run2.join("b.txt").exists(), "nothing restored");
    assert!(!object.exists() && store.lookup("ff00").is_none(), "the object and its entry are gone");
}

#[test]
fn an_entry_edited_on_disk_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let outputs = inputs(json!({"answer": "production"}));
    store.put("ee11", ("r", "s", "t", "a"), &outputs, &run, &Made::default(), false).unwrap();
    assert!(store.lookup("ee11").is_some());
    let path = dir.path().join("cache/entries/ee/ee11.json");
    let text = std::fs::read_to_string(&path).unwrap().replace("production", "dry-run");
    std::fs::write(&path, text).unwrap();
    assert!(store.lookup("ee11").is_none(), "valid JSON, wrong checksum: dropped");
    assert!(!path.exists());
}

#[test]
fn a_hit_gives_back_each_files_mode_and_the_folders_its_outputs_name() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let run = dir.path().join("run1");
    std::fs::create_dir_all(run.join("made/empty")).unwrap();
    let before = snapshot::take(&run).unwrap();
    std::fs::write(run.join("plain.sh"), "echo hi\n").unwrap();
    std::fs::write(run.join("run.sh"), "echo hi\n").unwrap(); // the same content, runnable
    std::fs::set_permissions(run.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let outputs = inputs(json!({"folder": run.join("made")}));
    let made = capture(&outputs, &Forms::of(&run), &HashMap::new(), &snapshot::changes(&before, &run).unwrap()).unwrap().made;
    store.put("dd01", ("r", "s", "t", "a"), &outputs, &run, &made, false).unwrap();
    let run2 = dir.path().join("run2");
    store.restore(&store.lookup("dd01").unwrap(), &run2).unwrap();
    let mode = |p: &str| std::fs::metadata(run2.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode("run.sh"), mode("plain.sh") & 0o111), (0o755, 0));
    assert!(run2.join("made/empty").is_dir(), "a folder the outputs name is made, with what is under it");
}

#[test]
fn a_file_it_makes_outside_the_run_folder_keeps_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let out = dir.path().join("elsewhere/out.txt");
    let i = inputs(json!({"command": format!("echo hi > {}", out.display())}));
    let (_, read) = super::key::key_and_files(&parts(&i, &run, &Context::default())).unwrap();
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, "hi").unwrap(); // what the step did
    let why = capture(&Map::new(), &Forms::of(&run), &read, &Default::default()).unwrap_err();
    assert!(matches!(why, Uncacheable::MadeOutside(_)) && why.to_string().contains("outside the run folder"), "{why}");
}

#[test]
fn patterns_and_home_in_text_name_the_files_they_would() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "one").unwrap();
    let env: std::collections::BTreeMap<String, String> = [("HOME".to_string(), data.display().to_string())].into();
    let context = Context { env, ..Default::default() };
    for text in [format!("cat {}/*.txt", data.display()), format!("cat {}/?.txt", data.display()), "cat ~/a.txt".into()] {
        let i = inputs(json!({ "command": text }));
        let before = kc(&i, &run, &context);
        std::fs::write(data.join("a.txt"), "two").unwrap();
        assert_ne!(kc(&i, &run, &context), before, "{text}: new content, new key");
        std::fs::write(data.join("a.txt"), "one").unwrap();
    }
    let i = inputs(json!({"command": format!("cat {}/*.txt", data.display())}));
    let before = kc(&i, &run, &context);
    std::fs::write(data.join("b.txt"), "").unwrap();
    assert_ne!(kc(&i, &run, &context), before, "a new file the pattern matches: a new key");
}

#[test]
fn a_recursive_pattern_or_one_the_glob_crate_cannot_read_is_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(data.join("sub/deeper/a.txt"), "one").unwrap();
    let env: std::collections::BTreeMap<String, String> = [("HOME".to_string(), data.display().to_string())].into();
    let context = Context { env, ..Default::default() };
    // `**` reaches any depth (through linked folders too): it is not listed for a key, and
    // not left out of it either (a file two folders down would be served stale).
    let i = inputs(json!({ "command": format!("cat {}/**/*.txt", data.display()) }));
    let why = super::key::key_and_files(&parts(&i, &run, &context)).unwrap_err();
    assert!(matches!(why, Uncacheable::Pattern { .. }) && why.to_string().contains("any depth"), "{why}");
    let bad = inputs(json!({ "command": format!("cat {}/a[b/x?", data.display()) }));
    let why = super::key::key_and_files(&parts(&bad, &run, &context)).unwrap_err();
    assert!(matches!(why, Uncacheable::Pattern { .. }) && why.to_string().contains("cannot list"), "{why}");
}

#[test]
fn a_folders_hash_follows_linked_folders_and_counts_links_special_files_and_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (tree, real) = (dir.path().join("tree"), dir.path().join("real"));
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::create_dir_all(&real).unwrap();
    std::fs::write(real.join("f.txt"), "r1").unwrap();
    std::fs::write(tree.join("own.sh"), "echo\n").unwrap();
    std::os::unix::fs::symlink(&real, tree.join("sub")).unwrap();
    std::os::unix::fs::symlink(&tree, tree.join("loop")).unwrap(); // a cycle: listed once
    let hash = || super::files::content_hash(&tree).unwrap().unwrap();
    let mut seen = vec![hash()];
    let changed = |what: &str, seen: &mut Vec<String>| {
        let h = hash();
        assert!(!seen.contains(&h), "{what}: a new hash");
        seen.push(h);
    };
    std::fs::write(real.join("f.txt"), "r2").unwrap();
    changed("a file in a linked folder", &mut seen);
    std::fs::set_permissions(tree.join("own.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    changed("a file made runnable", &mut seen);
    std::os::unix::fs::symlink(dir.path().join("nowhere"), tree.join("dangling")).unwrap();
    changed("a dangling link", &mut seen);
    std::fs::remove_file(tree.join("dangling")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), tree.join("dangling")).unwrap();
    changed("a link pointed elsewhere", &mut seen);
    let fifo = std::ffi::CString::new(tree.join("pipe").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    changed("a named pipe", &mut seen);
}

/// The key a probe makes on the async worker (`cache::in_place`), or `Deferred`.
fn key_in_place(inputs: &Map<String, Value>, run_dir: &Path, context: &Context) -> Result<(String, HashMap<String, String>), Uncacheable> {
    super::key::key_and_files_within(&parts(inputs, run_dir, context), &InPlace::bounded())
}

#[test]
fn a_key_made_in_place_is_the_key_made_on_a_blocking_thread_or_is_deferred() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(run.join("folder")).unwrap();
    std::fs::write(run.join("small.txt"), "small").unwrap();
    std::fs::write(run.join("big.bin"), vec![7u8; 64 * 1024 + 1]).unwrap();
    let context = Context { bases: vec![run.clone()], ..Context::default() };
    let whole = |text: &str| {
        let i = inputs(json!({ "command": text, "out": format!("{}/out.txt", run.display()) }));
        (key_in_place(&i, &run, &context), super::key::key_and_files(&parts(&i, &run, &context)).unwrap())
    };
    let (here, there) = whole("cat small.txt prev=x");
    assert_eq!(here.unwrap(), there, "the same key and the same files read");
    let words: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
    for (text, what) in [
        ("cat big.bin", "a file bigger than the bound"),
        ("ls folder", "a folder"),
        ("cat ./*.txt", "a pattern"),
        (&words.join(" "), "more words than the bound"),
    ] {
        let (here, there) = whole(text);
        assert_eq!(here, Err(Uncacheable::Deferred), "{what}");
        assert!(!there.0.is_empty(), "{what}: made on a blocking thread");
    }
    let programs = Context { programs: vec!["sh".into()], ..context.clone() };
    assert_eq!(key_in_place(&inputs(json!({"a": "b"})), &run, &programs), Err(Uncacheable::Deferred), "a program on `PATH`");
}

#[test]
fn in_place_a_rewrite_within_the_same_tick_and_a_file_appearing_under_a_base_change_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (run, base) = (dir.path().join("run"), dir.path().join("recipes"));
    std::fs::create_dir_all(&run).unwrap();
    std::fs::create_dir_all(&base).unwrap();
    let context = Context { bases: vec![base.clone()], ..Context::default() };
    let src = dir.path().join("in.txt");
    std::fs::write(&src, "one").unwrap();
    let i = inputs(json!({"source": src, "content": "see notes.txt"}));
    let first = key_in_place(&i, &run, &context).unwrap().0;
    // Rewritten at once, same size, its times put back: nothing but the content differs.
    let mtime = std::fs::metadata(&src).unwrap().modified().unwrap();
    std::fs::write(&src, "two").unwrap();
    std::fs::File::options().write(true).open(&src).unwrap().set_modified(mtime).unwrap();
    let rewritten = key_in_place(&i, &run, &context).unwrap().0;
    assert_ne!(rewritten, first, "new content within the same tick: a new key");
    std::fs::write(base.join("notes.txt"), "n").unwrap();
    let appeared = key_in_place(&i, &run, &context).unwrap().0;
    assert_ne!(appeared, rewritten, "a file the text names appeared under a folder it is read from");
    std::fs::write(&src, "one").unwrap();
    std::fs::remove_file(base.join("notes.txt")).unwrap();
    assert_eq!(key_in_place(&i, &run, &context).unwrap().0, first, "all as it was: the first key");
}

#[test]
fn words_of_an_input_that_names_no_files_are_not_looked_up_and_the_others_still_are() {
    let dir = tempfile::tempdir().unwrap();
    let (run, base) = (dir.path().join("run"), dir.path().join("recipes"));
    std::fs::create_dir_all(&run).unwrap();
    std::fs::create_dir_all(&base).unwrap();
    let (named, path) = (dir.path().join("named.txt"), dir.path().join("out.txt"));
    std::fs::write(&named, "one").unwrap();
    // A `file_ops.write`: what it writes names a file, a relative word and its own `path`.
    let i = inputs(json!({"path": path, "content": format!("prev={} see notes.txt", named.display())}));
    let text = Context { bases: vec![base.clone()], text_only: vec!["content".into()], ..Context::default() };
    let all = Context { text_only: Vec::new(), ..text.clone() };
    let (of_text, of_all) = (kc(&i, &run, &text), kc(&i, &run, &all));
    std::fs::write(&named, "two").unwrap();
    std::fs::write(base.join("notes.txt"), "n").unwrap();
    assert_eq!(kc(&i, &run, &text), of_text, "text: what its words name is not read");
    assert_eq!(key_in_place(&i, &run, &text).unwrap().0, of_text, "in place too");
    assert_ne!(kc(&i, &run, &all), of_all, "the same input not marked: its words count by content");
    std::fs::write(&path, "there before").unwrap();
    assert_ne!(kc(&i, &run, &text), of_text, "the other inputs still count: the file `path` names appeared");
}

#[test]
fn a_relocatable_text_naming_its_run_folder_comes_back_naming_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let (one, two) = (dir.path().join("runs/20261207-000001"), dir.path().join("runs/20261207-000002"));
    for run in [&one, &two] {
        std::fs::create_dir_all(run).unwrap();
        std::fs::write(run.join("note.txt"), format!("made in {}", run.display())).unwrap();
    }
    // A step after it that names the file keys it by its bytes, the run folder's path in
    // them: what it does with them may be more than naming a place (`md5sum note.txt`).
    let named = |run: &Path| inputs(json!({"read": run.join("note.txt")}));
    assert_ne!(k(&named(&one), &one), k(&named(&two), &two));
    // Stored from the first run, restored into a third: it names the third.
    let outputs = inputs(json!({"path": one.join("note.txt")}));
    let made = capture(&outputs, &Forms::of(&one), &HashMap::new(), &Default::default()).unwrap().made;
    store.put("ab01", ("r", "s", "t", "a"), &outputs, &one, &made, true).unwrap();
    let entry = store.lookup("ab01").unwrap();
    assert!(entry.files[0].relocated);
    let object = std::fs::read(dir.path().join("cache/objects").join(&entry.files[0].sha256[..2]).join(&entry.files[0].sha256)).unwrap();
    assert_eq!(object, b"made in {run_dir}");
    let three = dir.path().join("runs/20261207-000003");
    std::fs::create_dir_all(&three).unwrap();
    let restored = store.restore(&entry, &three).unwrap();
    assert_eq!(std::fs::read_to_string(three.join("note.txt")).unwrap(), format!("made in {}", three.display()));
    assert_eq!(restored["path"], json!(three.join("note.txt")));
    // A tool that does not say the path is all its file holds of the run folder: not stored.
    let err = store.put("ab02", ("r", "s", "t", "a"), &outputs, &one, &made, false).unwrap_err();
    assert!(err.to_string().contains("it made `note.txt`, which holds the run folder's path"), "{err}");
    assert!(store.lookup("ab02").is_none());
    // Run folders of another length: another key (a size beside the path would not hold).
    let longer = dir.path().join("runs/20261207-0000001");
    assert_ne!(k(&inputs(json!({"n": 1})), &one), k(&inputs(json!({"n": 1})), &longer));
    assert_eq!(k(&inputs(json!({"n": 1})), &one), k(&inputs(json!({"n": 1})), &two));
    // Text that says `{run_dir}` itself cannot be told from it: neither keyed nor stored.
    let literal = inputs(json!({"content": "{run_dir}/x"}));
    assert_eq!(super::key::key(&parts(&literal, &one, &Context::default())).unwrap_err(), Uncacheable::Placeholder("inputs"));
    assert_eq!(capture(&literal, &Forms::of(&one), &HashMap::new(), &Default::default()).unwrap_err(), Uncacheable::Placeholder("outputs"));
    // Outputs naming it as it is come back with the new folder; escaped, they could not.
    let escaped = inputs(json!({"stdout": format!("{{\"dir\": \"{}\"}}", one.display().to_string().replace('/', "\\/"))}));
    assert_eq!(capture(&escaped, &Forms::of(&one), &HashMap::new(), &Default::default()).unwrap_err(), Uncacheable::OutputsHoldRunFolder);
}

#[test]
fn a_lookup_or_restore_too_big_for_in_place_is_deferred_having_done_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let run = dir.path().join("run1");
    std::fs::create_dir_all(&run).unwrap();
    let before = snapshot::take(&run).unwrap();
    std::fs::write(run.join("big.bin"), vec![1u8; 64 * 1024 + 1]).unwrap();
    let made = capture(&Map::new(), &Forms::of(&run), &HashMap::new(), &snapshot::changes(&before, &run).unwrap()).unwrap().made;
    store.put("aa01", ("r1", "s", "t", "a"), &Map::new(), &run, &made, false).unwrap();
    let long = inputs(json!({ "text": "x".repeat(64 * 1024) }));
    store.put("aa02", ("r1", "s", "t", "a"), &long, &run, &Made::default(), false).unwrap();
    let entry_file = dir.path().join("cache/entries/aa/aa02.json");
    let used = std::fs::metadata(&entry_file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(store.lookup_within("aa02", &InPlace::bounded()).unwrap_err(), Uncacheable::Deferred, "an entry of 64 KiB of outputs");
    assert_eq!(std::fs::metadata(&entry_file).unwrap().modified().unwrap(), used, "and not counted as used");
    let entry = store.lookup_within("aa01", &InPlace::bounded()).unwrap().unwrap();
    let run2 = dir.path().join("run2");
    std::fs::create_dir_all(&run2).unwrap();
    assert_eq!(store.restore_within(&entry, &run2, &InPlace::bounded()).unwrap_err(), Uncacheable::Deferred);
    assert_eq!(std::fs::read_dir(&run2).unwrap().count(), 0, "nothing restored, no temporary file left");
    store.restore_within(&entry, &run2, &InPlace::unbounded()).unwrap();
    assert_eq!(std::fs::read(run2.join("big.bin")).unwrap(), vec![1u8; 64 * 1024 + 1], "restored on a blocking thread");
}

#[test]
fn a_key_and_an_entrys_checksum_stay_what_they_were_for_the_same_step() {
    // Pinned: a change to what goes into a key or an entry's checksum must bump `KEY_FORMAT`
    // (every older entry stops matching) rather than slip in unnoticed. The run folder's
    // path is in the key by its length only: one of a fixed length, whatever `TMPDIR` is.
    let dir = tempfile::Builder::new().prefix(&format!("lf-pinned-{:010}-", std::process::id())).rand_bytes(6).tempdir_in("/tmp").unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("in.txt"), "one").unwrap();
    // Its mode is in the entry: not left to the umask.
    std::fs::set_permissions(run.join("in.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let i = inputs(json!({"path": format!("{}/in.txt", run.display()), "content": "prev=x", "n": [1, {"deep": "y"}]}));
    let context = Context { upstream: vec![("a".into(), "d1".into())], ..Context::default() };
    assert_eq!(kc(&i, &run, &context), "491bc53b32735315e3f502d87b31420703627ec965bc2a255a2546dbd28084f6");
    let store = Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
    let made = capture(&i, &Forms::of(&run), &HashMap::new(), &Default::default()).unwrap().made;
    store.put("ab01", ("r", "s", "t", "a"), &i, &run, &made, false).unwrap();
    let entry: Value = serde_json::from_slice(&std::fs::read(dir.path().join("cache/entries/ab/ab01.json")).unwrap()).unwrap();
    assert_eq!(entry["sum"], "7cb953dd6d8ada070f01408131a7fb06dc315085acf60df3a6cb88feb50e22b2");
}

#[test]
fn the_terminal_size_is_part_of_a_key_that_holds_the_environment() {
    // `ls -C` and argparse lay their text out by them, into a pipe too.
    for name in ["COLUMNS", "LINES"] {
        assert!(!super::key::volatile(name), "{name}");
    }
    assert!(super::key::volatile("TERM_SESSION_ID") && super::key::volatile("SSH_AUTH_SOCK"));
}
