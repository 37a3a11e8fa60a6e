//! Errors cross module boundaries typed (issue 29): no public function or trait method in
//! `src/` returns `Result<_, String>`, so a caller can tell one failure from another
//! without reading its words. A private helper inside one module may still.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_public_function_returns_a_string_error() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut found = Vec::new();
    for f in files {
        let name = f.to_string_lossy();
        if name.ends_with("tests.rs") || name.contains("/tests/") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // A signature may span lines: join each `fn` up to its body or `;`.
        let mut in_trait = false;
        let mut sig: Option<(usize, String)> = None;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("pub trait ") || t.starts_with("trait ") {
                in_trait = true;
            } else if line.starts_with('}') {
                in_trait = false;
            }
            let public = t.starts_with("pub fn ")
                || t.starts_with("pub(crate) fn ")
                || t.starts_with("pub async fn ")
                || t.starts_with("pub(crate) async fn ");
            let trait_fn = in_trait && (t.starts_with("fn ") || t.starts_with("async fn "));
            if sig.is_none() && (public || trait_fn) {
                sig = Some((i + 1, String::new()));
            }
            if let Some((at, s)) = sig.as_mut() {
                s.push_str(t);
                if t.contains('{') || t.ends_with(';') {
                    let compact: String = s.split_whitespace().collect();
                    let ret = compact.split_once("->").map_or("", |(_, r)| r);
                    let ret = ret.split(['{', ';']).next().unwrap_or("").split("where").next().unwrap_or("");
                    if ret.starts_with("Result<") && ret.ends_with(",String>") {
                        found.push(format!("{}:{at}: {s}", f.display()));
                    }
                    sig = None;
                }
            }
        }
    }
    assert!(found.is_empty(), "return a typed error (thiserror) instead of String:\n{}", found.join("\n"));
}
