//! Every malformed recipe in `tests/fixtures/recipes/bad/` is rejected before
//! anything runs, and the messages are pinned in one snapshot.

use localforge::engine::check;
use localforge::tools::Registry;
use std::path::Path;

#[test]
fn every_bad_recipe_is_rejected_with_located_messages() {
    let dir = Path::new("tests/fixtures/recipes/bad");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 25, "the corpus shrank to {}", files.len());
    let tools = Registry::native();
    let mut report = String::new();
    for file in &files {
        let diags = check(file, &tools).expect_err(&format!("{} was accepted", file.display()));
        assert!(!diags.is_empty());
        let places: Vec<_> = diags.iter().filter_map(|d| d.line.map(|l| (l, d.column))).collect();
        assert!(places.windows(2).all(|w| w[0] <= w[1]), "{}: problems not in file order: {places:?}", file.display());
        report.push_str(&format!("## {}\n", file.file_name().unwrap().to_string_lossy()));
        for d in &diags {
            assert_eq!(d.file.as_deref(), Some(file.to_str().unwrap()), "diagnostic without the file: {d}");
            report.push_str(&format!("{d}\n"));
        }
        report.push('\n');
    }
    insta::assert_snapshot!(report);
}
