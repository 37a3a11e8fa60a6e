//! A Python plugin's version for cache keys (`Tool::fingerprint`): LocalForge's version
//! and every `.py` file beside the plugin, where the helpers it imports live, so a changed
//! plugin or helper invalidates its cached steps.

use std::path::{Path, PathBuf};

/// `python:<name>:<sha256>` of LocalForge's version and each `.py` file (name and content)
/// in the plugin file's folder; the file alone when the folder has none to read.
pub fn python_plugin(name: &str, source: &Path) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    let mut files: Vec<PathBuf> = source
        .parent()
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    if files.is_empty() {
        files.push(source.to_path_buf());
    }
    files.sort();
    for f in files {
        h.update(f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default().as_bytes());
        h.update(std::fs::read(&f).unwrap_or_default());
    }
    format!("python:{name}:{}", crate::digest::hex(&h.finalize()))
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
}
