//! The scanner's report of what it saw (`seen_forbidden`), checked on the bad corpus directly.
//! (That every good module scans clean, every bad one is rejected with its `# expect:` rule,
//! and every error rule is exercised is `tests/scan_cli.rs`, through the real binary.)

#[path = "../../tests/common/corpus_files.rs"]
#[allow(dead_code)] // the `# expect:` reader serves the end-to-end tests
mod corpus_files;

use std::path::Path;

use corpus_files::py_files;
use pyward_policy::Policy;
use pyward_policy::scan::{self, Rule, ScanRules};

fn corpus(kind: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("corpus")
        .join(kind)
}

fn rules() -> ScanRules {
    Policy::default().scan
}

fn scan(path: &Path, rules: &ScanRules) -> scan::FileReport {
    let bytes = std::fs::read(path).unwrap();
    scan::scan_source(&path.to_string_lossy(), &bytes, rules)
}

/// What the parser cross-check relies on: every forbidden identifier in the bad corpus that the
/// scanner reports is also in `seen_forbidden`, and good modules see only what they really say.
#[test]
fn seen_forbidden_covers_what_the_findings_name() {
    let rules = rules();
    for path in py_files(&corpus("bad")) {
        let report = scan(&path, &rules);
        for finding in &report.findings {
            if matches!(finding.rule, Rule::ForbiddenName | Rule::ForbiddenAttribute)
                && let Some(word) = finding.message.split('`').nth(1)
                && rules.is_forbidden_identifier(word)
            {
                assert!(
                    report.seen_forbidden.contains(word),
                    "{}: {word} reported but not seen: {:?}",
                    path.display(),
                    report.seen_forbidden
                );
            }
        }
    }
}
