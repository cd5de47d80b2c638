//! Helpers shared by the end-to-end tests: the real binary, the repository layout, and the
//! `PYWARD_TEST_EXPECT` switch that turns a skipped test into a failure.
#![allow(dead_code)]

pub mod container;
pub mod corpus_files;
pub mod daemon;

#[allow(unused_imports)] // not every test binary reads `# expect:` headers
pub use corpus_files::{expected_rule, py_files};

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
