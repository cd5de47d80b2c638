//! Helpers shared by the end-to-end tests: the real binary, the repository layout, and the
//! `PYWARD_TEST_EXPECT` switch that turns a skipped test into a failure.
#![allow(dead_code)]

pub mod container;
pub mod daemon;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn pyward() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pyward"))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("supervisor/ sits in the repository root")
        .to_path_buf()
}

pub fn corpus(kind: &str) -> PathBuf {
    repo_root().join("tests").join("corpus").join(kind)
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the pyward binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A test that cannot run here says so loudly; if CI listed the capability in
/// `PYWARD_TEST_EXPECT` (comma-separated), the skip is a failure instead.
pub fn skip_unless_expected(capability: &str, why: &str) {
    let expected = std::env::var("PYWARD_TEST_EXPECT").unwrap_or_default();
    if expected.split(',').any(|c| c.trim() == capability) {
        panic!("PYWARD_TEST_EXPECT lists `{capability}` but it is not available: {why}");
    }
    eprintln!("SKIPPED ({capability} not available): {why}");
}

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

pub fn py_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    files
}
