//! What a scan says, in the three forms people and tools read: text, JSON and SARIF 2.1.0.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};

use super::{Finding, Rule, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Clean,
    Rejected,
}

/// The scan of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub path: String,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// Every identifier on a forbidden list (NFKC-normalised) that the scanner saw in the file,
    /// whether or not it led to an error: names, attribute names, parameter, function, class and
    /// import names, keyword-argument names, and string constants (each literal, and each
    /// folded value) whose whole value is such an identifier. Empty when the file was rejected
    /// before parsing. The parser cross-check compares it with what CPython compiled (see
    /// `scan::forbidden_identifiers`). Not part of the JSON report.
    #[serde(skip)]
    pub seen_forbidden: BTreeSet<String>,
}

impl FileReport {
    pub fn new(path: &str, findings: Vec<Finding>) -> FileReport {
        let rejected = findings.iter().any(|f| f.severity == Severity::Error);
        FileReport {
            path: path.to_string(),
            verdict: if rejected {
                Verdict::Rejected
            } else {
                Verdict::Clean
            },
            findings,
            seen_forbidden: BTreeSet::new(),
        }
    }

    pub fn is_clean(&self) -> bool {
        self.verdict == Verdict::Clean
    }
}

/// Many files' reports, as `pyward scan --format json` prints them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    pub files: Vec<FileReport>,
}

/// `path:line:col: severity[rule] message` per finding, and a closing count.
pub fn render_text(summary: &ScanSummary) -> String {
    let mut out = String::new();
    let mut rejected = 0;
    for file in &summary.files {
        if !file.is_clean() {
            rejected += 1;
        }
        for f in &file.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            out.push_str(&format!(
                "{}:{}:{}: {level}[{}] {}\n",
                file.path,
                f.line,
                f.column,
                f.rule.id(),
                f.message
            ));
            if !f.text.is_empty() {
                out.push_str(&format!("    | {}\n", f.text));
            }
        }
    }
    out.push_str(&format!(
        "{} file(s) scanned: {} clean, {} rejected\n",
        summary.files.len(),
        summary.files.len() - rejected,
        rejected
    ));
    out
}

pub fn render_json(summary: &ScanSummary) -> String {
    serde_json::to_string_pretty(summary).expect("scan reports always serialise")
}

/// A SARIF 2.1.0 log with every rule described once and one result per finding.
pub fn render_sarif(summary: &ScanSummary) -> String {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": r.id(),
                "shortDescription": { "text": r.description() },
                "fullDescription": { "text": r.description() },
                "defaultConfiguration": { "level": sarif_level(r.severity()) },
                "helpUri": format!("https://pyward.invalid/docs/scan-rules#{}", r.id()),
            })
        })
        .collect();
    let results: Vec<Value> = summary
        .files
        .iter()
        .flat_map(|file| {
            file.findings.iter().map(move |f| {
                let mut region = json!({
                    "startLine": f.line.max(1),
                    "startColumn": f.column.max(1),
                });
                if !f.text.is_empty() {
                    region["snippet"] = json!({ "text": f.text });
                }
                json!({
                    "ruleId": f.rule.id(),
                    "ruleIndex": Rule::ALL.iter().position(|r| *r == f.rule).unwrap_or(0),
                    "level": sarif_level(f.severity),
                    "message": { "text": f.message },
                    "locations": [{
                        "physicalLocation": {
                            "artifactLocation": { "uri": file_uri(&file.path) },
                            "region": region,
                        }
                    }],
                })
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "pyward",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://pyward.invalid/",
                    "rules": rules,
                }
            },
            "results": results,
        }]
    });
    serde_json::to_string_pretty(&log).expect("SARIF always serialises")
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// A URI for a path: `file:///...` for an absolute path, a relative reference otherwise
/// (SARIF wants URIs; spaces and the like are percent-escaped).
fn file_uri(path: &str) -> String {
    let mut out = String::from(if path.starts_with('/') { "file://" } else { "" });
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
