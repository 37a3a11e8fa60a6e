//! A Python plugin's version for cache keys (`Tool::fingerprint`): LocalForge's version
//! and every `.py` file in the plugin's folder and the packages under it, where the helpers
//! it imports live, so a changed plugin or helper invalidates its cached steps.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `python:<name>:<sha256>` of LocalForge's version and each `.py` file (path and content)
/// under the plugin file's folder; the file alone when the folder has none to read.
pub fn python_plugin(name: &str, source: &Path) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    let mut files = Vec::new();
    // A module installed on its own (an entry point's `plugin.py` in `site-packages`) is its
    // file: the folder beside it is every other installed package.
    let installed = |d: &Path| d.file_name().is_some_and(|n| n == "site-packages" || n == "dist-packages");
    let complete = match source.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !installed(dir) => python_files(dir, dir, 0, &mut files),
        _ => true,
    };
    if files.is_empty() {
        files.push((source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), source.to_path_buf()));
    }
    files.sort();
    if !complete {
        files.clear(); // the version is this process's alone: no need to read them
    }
    for (rel, f) in &files {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(std::fs::read(f).unwrap_or_default());
    }
    if !complete {
        // More code than is read each time: a version of this process alone (never served
        // to another), since a change in what was not read would not be seen.
        h.update(format!("incomplete {} {:?}", std::process::id(), std::time::SystemTime::now()).as_bytes());
    }
    let version = format!("python:{name}:{}", crate::digest::hex(&h.finalize()));
    // The code a long-lived process runs is what it imported first: a plugin's helper
    // modules stay loaded after their files change. A version that is not what this
    // process first saw for the plugin is one its code may not be: made unique to this
    // call, so it is neither served from nor stored under the files' new version.
    let mut first = FIRST_SEEN.lock().expect("first seen");
    let seen = first.get_or_insert_with(HashMap::new).entry((name.to_string(), source.to_path_buf())).or_insert_with(|| version.clone());
    if *seen != version {
        return format!(
            "{version}:loaded-before-{}",
            crate::digest::hex(&sha2::Sha256::digest(format!("{:?}", std::time::SystemTime::now())))
        );
    }
    version
}

/// The version each plugin had when this process first computed it, by its file.
static FIRST_SEEN: std::sync::Mutex<Option<HashMap<(String, PathBuf), String>>> = std::sync::Mutex::new(None);

/// Most `.py` files read for one plugin's version.
const MAX_PY_FILES: usize = 2000;

/// The `.py` files under `dir` (its packages too: a helper package a plugin imports),
/// by their path from `root`; not hidden folders or `__pycache__`. False when there were
/// more than `MAX_PY_FILES` or deeper than 8 folders (what was left out is not seen).
fn python_files(root: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, PathBuf)>) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return true };
    let mut complete = true;
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ty) = e.file_type() else { continue };
        if ty.is_dir() && !name.starts_with('.') && name != "__pycache__" {
            complete &= depth < 8 && python_files(root, &p, depth + 1, out);
        } else if name.ends_with(".py") && !ty.is_dir() {
            out.push((p.strip_prefix(root).unwrap_or(&p).to_string_lossy().into_owned(), p));
        }
        if out.len() > MAX_PY_FILES {
            return false;
        }
    }
    complete
}

#[cfg(test)]
mod tests {
    use super::python_plugin;

    #[test]
    fn a_plugin_changes_version_with_any_python_file_beside_it_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("my_tool.py");
        std::fs::write(&plugin, "def handle(a, i, c): return {}\n").unwrap();
        let first = python_plugin("my_tool", &plugin);
        assert!(first.starts_with("python:my_tool:") && first.len() == "python:my_tool:".len() + 64, "{first}");
        assert_eq!(python_plugin("my_tool", &plugin), first, "the same files: the same version");
        std::fs::write(dir.path().join("notes.txt"), "not code").unwrap();
        assert_eq!(python_plugin("my_tool", &plugin), first, "only .py files count");
        std::fs::write(dir.path().join("helper.py"), "X = 1\n").unwrap();
        let with_helper = python_plugin("my_tool", &plugin);
        assert_ne!(with_helper, first, "a helper it may import counts");
        std::fs::write(dir.path().join("helper.py"), "X = 2\n").unwrap();
        assert_ne!(python_plugin("my_tool", &plugin), with_helper, "and so does a change to it");
        assert_ne!(python_plugin("other", &plugin), python_plugin("my_tool", &plugin), "the name is part of it");
    }

    #[test]
    fn a_helper_package_counts_and_a_version_this_process_did_not_load_first_is_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("pk_tool.py");
        std::fs::write(&plugin, "from helpers import x\n").unwrap();
        std::fs::create_dir_all(dir.path().join("helpers/__pycache__")).unwrap();
        std::fs::write(dir.path().join("helpers/__init__.py"), "x = 1\n").unwrap();
        let first = python_plugin("pk", &plugin);
        assert_eq!(python_plugin("pk", &plugin), first);
        std::fs::write(dir.path().join("helpers/__pycache__/stale.py"), "ignored").unwrap();
        assert_eq!(python_plugin("pk", &plugin), first, "compiled files are not code it reads");
        std::fs::write(dir.path().join("helpers/__init__.py"), "x = 2\n").unwrap();
        // This process imported `helpers` as it was: the new files' version is not what it
        // runs, so each call gets a version of its own (neither served nor stored for others).
        let (a, b) = (python_plugin("pk", &plugin), python_plugin("pk", &plugin));
        assert!(a.starts_with("python:pk:") && a != first && a != b, "{a} {b}");
        // More code beside it than is read: a version of its own each time.
        let big = tempfile::tempdir().unwrap();
        let lone = big.path().join("lone_tool.py");
        std::fs::write(&lone, "").unwrap();
        std::fs::create_dir_all(big.path().join("venv")).unwrap();
        for i in 0..=super::MAX_PY_FILES {
            std::fs::write(big.path().join(format!("venv/m{i}.py")), "").unwrap();
        }
        assert_ne!(python_plugin("lone", &lone), python_plugin("lone", &lone));
    }
}
