//! The good and bad module corpora, judged by the scanner directly (the same checks as
//! `tests/scan_cli.rs` at the workspace root, without building the `pyward` binary): every good
//! module scans with no finding at all, every bad one is rejected with the rule its `# expect:`
//! header names, and every error rule has a bad file that expects it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pyward_policy::Policy;
use pyward_policy::scan::{self, Rule, ScanRules, Severity};

fn corpus(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("corpus")
        .join(kind)
}

fn py_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    files
}

/// The `# expect: rule` header of a corpus file (first 600 bytes), as `tests/common` reads it.
fn expected_rule(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(600)]).into_owned();
    head.lines()
        .find_map(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{} has no `# expect:` header", path.display()))
        .trim()
        .to_string()
}

fn rules() -> ScanRules {
    Policy::default().scan
}

fn scan(path: &Path, rules: &ScanRules) -> scan::FileReport {
    let bytes = std::fs::read(path).unwrap();
    scan::scan_source(&path.to_string_lossy(), &bytes, rules)
}

#[test]
fn good_corpus_scans_clean_with_no_findings() {
    let rules = rules();
    let files = py_files(&corpus("good"));
    assert!(files.len() >= 15, "the good corpus has at least 15 modules");
    let failures: Vec<String> = files
        .iter()
        .map(|path| scan(path, &rules))
        .filter(|report| !report.is_clean() || !report.findings.is_empty())
        .map(|report| format!("{}: {:#?}", report.path, report.findings))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_bad_file_is_rejected_with_its_expected_rule() {
    let rules = rules();
    let files = py_files(&corpus("bad"));
    assert!(
        files.len() >= 60,
        "the bad corpus has at least 60 techniques"
    );
    let mut failures = Vec::new();
    for path in &files {
        let expected = expected_rule(path);
        assert!(
            Rule::from_id(&expected).is_some(),
            "{}: `{expected}` is no rule id",
            path.display()
        );
        let report = scan(path, &rules);
        let found: Vec<&str> = report.findings.iter().map(|f| f.rule.id()).collect();
        if report.is_clean() || !found.contains(&expected.as_str()) {
            failures.push(format!(
                "{}: expected {expected}, got {found:?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_is_exercised_by_the_bad_corpus() {
    let covered: BTreeSet<String> = py_files(&corpus("bad"))
        .iter()
        .map(|p| expected_rule(p))
        .collect();
    for rule in Rule::ALL {
        if rule.severity() == Severity::Error {
            assert!(
                covered.contains(rule.id()),
                "no bad file expects {}",
                rule.id()
            );
        }
    }
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
