//! `pyward scan` end to end: the corpora, the output formats and the exit codes.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

fn scan_json(paths: &[&std::path::Path]) -> (i32, Value) {
    let out = run(pyward().arg("scan").arg("--format").arg("json").args(paths));
    let json: Value = serde_json::from_slice(&out.stdout).expect("scan --format json prints JSON");
    (out.status.code().unwrap(), json)
}

#[test]
fn good_corpus_scans_clean_with_no_findings() {
    let dir = corpus("good");
    assert!(
        py_files(&dir).len() >= 15,
        "the good corpus has at least 15 modules"
    );
    let (code, json) = scan_json(&[&dir]);
    for file in json["files"].as_array().unwrap() {
        assert_eq!(file["verdict"], "clean", "{file}");
        assert_eq!(file["findings"].as_array().unwrap().len(), 0, "{file}");
    }
    assert_eq!(code, 0);
}

#[test]
fn every_bad_file_is_rejected_with_its_expected_rule() {
    let dir = corpus("bad");
    let files = py_files(&dir);
    assert!(
        files.len() >= 60,
        "the bad corpus has at least 60 techniques"
    );
    let (code, json) = scan_json(&[&dir]);
    assert_eq!(code, 1);
    let reports: BTreeMap<String, &Value> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f))
        .collect();
    assert_eq!(reports.len(), files.len());
    let mut failures = Vec::new();
    for path in &files {
        let expected = expected_rule(path);
        let report = reports[&path.to_string_lossy().into_owned()];
        let rules: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        if report["verdict"] != "rejected" || !rules.contains(&expected.as_str()) {
            failures.push(format!(
                "{}: expected {expected}, got {rules:?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_is_exercised_by_the_bad_corpus() {
    let covered: std::collections::BTreeSet<String> = py_files(&corpus("bad"))
        .iter()
        .map(|p| expected_rule(p))
        .collect();
    for rule in pyward_policy::scan::Rule::ALL {
        // The parser cross-check needs CPython's compile (tested in policy's scan::differential_tests).
        if rule.severity() == pyward_policy::scan::Severity::Error && rule.is_source_rule() {
            assert!(
                covered.contains(rule.id()),
                "no bad file expects {}",
                rule.id()
            );
        }
    }
}

#[test]
fn json_findings_have_the_documented_shape() {
    let (_, json) = scan_json(&[&corpus("bad").join("getattr_crypto.py")]);
    let finding = &json["files"][0]["findings"][0];
    for key in ["rule", "severity", "line", "column", "text", "message"] {
        assert!(finding.get(key).is_some(), "missing {key}: {finding}");
    }
    assert_eq!(finding["rule"], "dynamic-attribute");
    assert_eq!(finding["line"], 4);
}

#[test]
fn unparseable_file_exits_1_with_a_parse_finding() {
    let (code, json) = scan_json(&[&corpus("bad").join("parse_error.py")]);
    assert_eq!(code, 1);
    assert_eq!(json["files"][0]["findings"][0]["rule"], "parse-error");
    assert_eq!(json["files"][0]["findings"][0]["line"], 3);
}

#[test]
fn missing_path_is_an_error_that_names_it() {
    let out = run(pyward().args(["scan", "/nonexistent/module.py"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/module.py"));
}

#[test]
fn text_output_names_file_line_rule_and_counts() {
    let out = run(pyward().arg("scan").arg(corpus("bad").join("import_os.py")));
    let text = stdout(&out);
    assert!(
        text.contains("import_os.py:3:8: error[forbidden-import]"),
        "{text}"
    );
    assert!(
        text.contains("1 file(s) scanned: 0 clean, 1 rejected"),
        "{text}"
    );
}

#[test]
fn scan_honours_the_policy_file() {
    let dir = tempdir();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, "[scan]\nallowed_imports = [\"json\", \"os\"]\n").unwrap();
    let out = run(pyward()
        .arg("scan")
        .arg("--config")
        .arg(&policy)
        .arg(corpus("bad").join("import_os.py")));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    std::fs::write(&policy, "[scan]\nallowed_imports = [\"json\"\n").unwrap();
    let out = run(pyward()
        .arg("scan")
        .arg("--config")
        .arg(&policy)
        .arg(corpus("good")));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("policy.toml:3:1: invalid array; expected `]`"),
        "{err}"
    );
}

/// SARIF output checked by the official SARIF multitool (installed by scripts/setup).
#[test]
fn sarif_is_valid_against_the_2_1_0_schema() {
    let tool = std::env::var_os("PYWARD_SARIF_MULTITOOL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            repo_root().join(".tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool")
        });
    if !tool.exists() {
        skip_unless_expected(
            "sarif",
            &format!("{} not found; run scripts/setup", tool.display()),
        );
        return;
    }
    let out = run(pyward()
        .args(["scan", "--format", "sarif"])
        .arg(corpus("bad")));
    let dir = tempdir();
    let file = dir.join("scan.sarif");
    std::fs::write(&file, &out.stdout).unwrap();
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(log["runs"][0]["results"].as_array().unwrap().len() >= 107);
    let check = std::process::Command::new(&tool)
        .arg("validate")
        .arg(&file)
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}");
    assert!(
        report.contains("Analysis completed successfully"),
        "{report}"
    );
    let errors: Vec<&str> = report.lines().filter(|l| l.contains(": error ")).collect();
    assert!(
        errors.is_empty(),
        "SARIF schema errors:\n{}",
        errors.join("\n")
    );
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pyward-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
