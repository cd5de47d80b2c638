//! The module corpora on disk (`tests/corpus/{good,bad}`): shared by the end-to-end tests
//! (through `tests/common`) and the policy crate's own tests (by `#[path]`), so both read them
//! the same way. Standard library only.

use std::path::{Path, PathBuf};

/// The `# expect: rule` header of a corpus file (first 600 bytes).
pub fn expected_rule(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(600)]).into_owned();
    let line = head
        .lines()
        .find_map(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{} has no `# expect:` header", path.display()));
    line.trim().to_string()
}

/// The `*.py` files of `dir`, sorted.
pub fn py_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    files
}
