//! The static scanner: judges a module's source before anything runs.
//!
//! It parses with the very parser (crate and version) the embedded interpreter compiles with, so
//! what is judged is exactly what would run. It fails closed: source that cannot be parsed or
//! judged is rejected with a finding that says why.
//!
//! Stages: byte checks and a token-level nesting bound ([`precheck`]), parse, a pass that records
//! every binding of every name ([`names`]), then one walk over the tree ([`walk`]) that applies
//! the rules with constant folding ([`fold`]) and the table of allowed modules' public APIs
//! ([`module_api`]).

mod fold;
mod module_api;
mod names;
mod precheck;
mod report;
mod rules;
mod walk;

use std::collections::BTreeSet;

use serde::Serialize;

pub use report::{FileReport, ScanSummary, Verdict, render_json, render_sarif, render_text};
pub(crate) use rules::kind;
pub use rules::{
    DEFAULT_ALLOWED_IMPORTS, DEFAULT_CLIENT_ATTRIBUTES, DEFAULT_FORBIDDEN_ATTRIBUTES,
    DEFAULT_FORBIDDEN_HOOK_METHODS, DEFAULT_FORBIDDEN_NAMES, DEFAULT_FORBIDDEN_PATTERNS,
    MAX_NESTING_LIMIT, NameSet, PatternSet, RawScan, ScanRules,
};

use crate::position::line_col;

/// How much a finding matters. Only errors reject a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

/// Every rule the scanner has. The ids are stable: they appear in reports, SARIF and the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    ParseError,
    NotUtf8,
    CodingDeclaration,
    NulByte,
    LoneCarriageReturn,
    InvisibleCharacter,
    FileTooLarge,
    NestingTooDeep,
    TooComplex,
    ForbiddenName,
    ForbiddenAttribute,
    DynamicAttribute,
    ForbiddenImport,
    StarImport,
    RelativeImport,
    ForbiddenString,
    ObfuscatedString,
    Obfuscation,
    SuspiciousString,
    ModuleAttribute,
    HookMethod,
    FormatString,
    ParserDifferential,
}

impl Rule {
    pub const ALL: [Rule; 23] = [
        Rule::ParseError,
        Rule::NotUtf8,
        Rule::CodingDeclaration,
        Rule::NulByte,
        Rule::LoneCarriageReturn,
        Rule::InvisibleCharacter,
        Rule::FileTooLarge,
        Rule::NestingTooDeep,
        Rule::TooComplex,
        Rule::ForbiddenName,
        Rule::ForbiddenAttribute,
        Rule::DynamicAttribute,
        Rule::ForbiddenImport,
        Rule::StarImport,
        Rule::RelativeImport,
        Rule::ForbiddenString,
        Rule::ObfuscatedString,
        Rule::Obfuscation,
        Rule::SuspiciousString,
        Rule::ModuleAttribute,
        Rule::HookMethod,
        Rule::FormatString,
        Rule::ParserDifferential,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Rule::ParseError => "parse-error",
            Rule::NotUtf8 => "not-utf8",
            Rule::CodingDeclaration => "coding-declaration",
            Rule::NulByte => "nul-byte",
            Rule::LoneCarriageReturn => "lone-carriage-return",
            Rule::InvisibleCharacter => "invisible-character",
            Rule::FileTooLarge => "file-too-large",
            Rule::NestingTooDeep => "nesting-too-deep",
            Rule::TooComplex => "too-complex",
            Rule::ForbiddenName => "forbidden-name",
            Rule::ForbiddenAttribute => "forbidden-attribute",
            Rule::DynamicAttribute => "dynamic-attribute",
            Rule::ForbiddenImport => "forbidden-import",
            Rule::StarImport => "star-import",
            Rule::RelativeImport => "relative-import",
            Rule::ForbiddenString => "forbidden-string",
            Rule::ObfuscatedString => "obfuscated-string",
            Rule::Obfuscation => "obfuscation",
            Rule::SuspiciousString => "suspicious-string",
            Rule::ModuleAttribute => "module-attribute",
            Rule::HookMethod => "hook-method",
            Rule::FormatString => "format-string",
            Rule::ParserDifferential => "parser-differential",
        }
    }

    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }

    /// Found in a source file by the scanner alone. The parser cross-check is not: it needs what
    /// CPython compiled (a worker reports it at load), so `pyward scan` never reports it.
    pub fn is_source_rule(self) -> bool {
        !matches!(self, Rule::ParserDifferential)
    }

    pub fn severity(self) -> Severity {
        match self {
            Rule::SuspiciousString => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// One sentence for reports and SARIF rule descriptions.
    pub fn description(self) -> &'static str {
        match self {
            Rule::ParseError => "The file is not valid Python, so it cannot be judged.",
            Rule::NotUtf8 => "The file is not valid UTF-8.",
            Rule::CodingDeclaration => {
                "The file declares a source encoding other than UTF-8, which can hide code."
            }
            Rule::NulByte => "The file contains a NUL byte.",
            Rule::LoneCarriageReturn => {
                "A lone carriage return makes Python and editors disagree about line breaks."
            }
            Rule::InvisibleCharacter => {
                "A bidirectional or invisible control character can disguise code."
            }
            Rule::FileTooLarge => "The file is larger than the policy allows.",
            Rule::NestingTooDeep => "The code nests deeper than the policy allows.",
            Rule::TooComplex => {
                "Constant expressions that would cost the scanner too much to evaluate."
            }
            Rule::ForbiddenName => "Use of a builtin or interpreter name that modules may not use.",
            Rule::ForbiddenAttribute => {
                "Access to an attribute used for session control, secrets or sandbox escapes."
            }
            Rule::DynamicAttribute => {
                "getattr/setattr/delattr/hasattr (or another function that takes attribute names) with a name that is forbidden or not known."
            }
            Rule::ForbiddenImport => "Import of a module outside the policy's allowlist.",
            Rule::StarImport => "`from x import *` hides which names a module takes.",
            Rule::RelativeImport => "A relative import reaches outside the module.",
            Rule::ForbiddenString => "A string holds a forbidden name or command pattern.",
            Rule::ObfuscatedString => {
                "A string is built, piece by piece, to spell a forbidden name."
            }
            Rule::Obfuscation => "Text written in a way that only serves to hide what it says.",
            Rule::SuspiciousString => "A plain string equal to a forbidden name.",
            Rule::ModuleAttribute => {
                "An attribute of a module that is not its public API (often another module), or a module object used as a value."
            }
            Rule::HookMethod => {
                "A method the interpreter calls behind the code's back: an object-model hook."
            }
            Rule::FormatString => {
                "str.format with a format string that is not a constant, or whose fields read attributes or items."
            }
            Rule::ParserDifferential => {
                "CPython compiled a forbidden name the scanner never saw in the source: the two parsers read it differently."
            }
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// 1-based; 0 when the finding is about the file as a whole.
    pub line: usize,
    pub column: usize,
    /// The offending source text (shortened).
    pub text: String,
    /// What is wrong and what to change, for the module's author.
    pub message: String,
}

impl Finding {
    pub fn new(
        rule: Rule,
        line: usize,
        column: usize,
        text: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        let text = crate::position::shorten(&text.into());
        Finding {
            rule,
            severity: rule.severity(),
            line,
            column,
            text,
            message: message.into(),
        }
    }

    fn at_start(rule: Rule, message: impl Into<String>) -> Finding {
        Finding::new(rule, 1, 1, "", message)
    }
}

/// The public attributes the scanner lets module code read on `module` (dotted name), modules
/// aside: its entry in the module-API table, if it has one.
pub fn module_public_api(module: &str) -> Option<&'static [&'static str]> {
    module_api::lookup(module).map(|m| m.api)
}

/// The identifiers among `words` that any forbidden list of `rules` contains (forbidden names,
/// forbidden attributes, client attributes, hook methods), compared after NFKC normalisation as
/// Python compares identifiers. For the parser cross-check: the words CPython compiled that the
/// scanner must have seen (`FileReport::seen_forbidden`).
pub fn forbidden_identifiers<'w>(
    rules: &ScanRules,
    words: impl IntoIterator<Item = &'w str>,
) -> BTreeSet<String> {
    words
        .into_iter()
        .filter_map(|w| {
            let normal = walk::nfkc(w);
            rules
                .is_forbidden_identifier(&normal)
                .then(|| normal.into_owned())
        })
        .collect()
}

/// The parser cross-check. `compiled` is every name, attribute name and short string constant
/// of the code objects CPython compiled from a source; `seen` is what the scanner saw in that
/// source (`FileReport::seen_forbidden`). A forbidden identifier in the first that is not in the
/// second means the scanner's parser and CPython's read the source differently: a finding
/// (`parser-differential`) that refuses the module. `None` when they agree.
pub fn parser_differential<'w>(
    rules: &ScanRules,
    seen: &BTreeSet<String>,
    compiled: impl IntoIterator<Item = &'w str>,
) -> Option<Finding> {
    let unseen: Vec<String> = forbidden_identifiers(rules, compiled)
        .into_iter()
        .filter(|word| !seen.contains(word))
        .collect();
    let first = unseen.first()?;
    Some(Finding::new(
        Rule::ParserDifferential,
        0,
        0,
        first.clone(),
        format!(
            "CPython compiled {} that the scanner never saw in the source ({}): the scanner's parser and CPython's read this file differently, so the scan cannot vouch for it",
            if unseen.len() == 1 {
                "a forbidden name".to_string()
            } else {
                format!("{} forbidden names", unseen.len())
            },
            unseen
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// Scan one file's bytes. `path` only names the file in the report. Never panics on any input,
/// and recursion is bounded by `rules.max_nesting` before the parser runs.
pub fn scan_source(path: &str, bytes: &[u8], rules: &ScanRules) -> FileReport {
    let mut seen = BTreeSet::new();
    let findings = scan_findings(bytes, rules, &mut seen);
    let mut report = FileReport::new(path, findings);
    report.seen_forbidden = seen;
    report
}

fn scan_findings(bytes: &[u8], rules: &ScanRules, seen: &mut BTreeSet<String>) -> Vec<Finding> {
    let (text, mut findings) =
        match precheck::precheck(bytes, rules.max_file_bytes, rules.max_nesting) {
            precheck::Precheck::Reject(findings) => return findings,
            precheck::Precheck::Parse { text, findings } => (text, findings),
        };
    let parsed = match ruff_python_parser::parse_module(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            let (line, column) = line_col(text, usize::from(e.location.start()));
            let snippet = text
                .lines()
                .nth(line.saturating_sub(1))
                .unwrap_or("")
                .trim();
            findings.push(Finding::new(
                Rule::ParseError,
                line,
                column,
                snippet,
                format!("the file does not parse as Python: {}", e.error),
            ));
            return findings;
        }
    };
    let skip_until = trusted_prelude_end(text, rules);
    let walked = walk::walk_module(text, parsed.syntax(), rules);
    *seen = walked.seen_forbidden;
    findings.extend(walked.findings.into_iter().filter(|f| f.line > skip_until));
    findings.sort_by_key(|f| (f.line, f.column));
    // A folded expression and a literal inside it can say the same thing twice.
    let mut seen = BTreeSet::new();
    findings.retain(|f| seen.insert((f.line, f.rule, f.message.clone())));
    findings
}

/// The last line of a trusted prelude, or 0. A prelude is trusted only when everything up to and
/// including the marker line hashes to a digest the policy lists: anyone can type the marker.
fn trusted_prelude_end(text: &str, rules: &ScanRules) -> usize {
    let Some(marker) = &rules.prelude_marker else {
        return 0;
    };
    let Some(at) = text.find(marker.as_str()) else {
        return 0;
    };
    let end = text[at..].find('\n').map_or(text.len(), |n| at + n + 1);
    let digest = sha256_hex(&text.as_bytes()[..end]);
    if rules.trusted_preludes.contains(&digest) {
        line_col(text, at).0
    } else {
        0
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod differential_tests {
    use super::*;

    #[test]
    fn a_forged_differential_is_refused_and_agreement_passes() {
        let rules = ScanRules::default();
        let source = "def f(self):\n    return self.__class__.__name__\n";
        let report = scan_source("m.py", source.as_bytes(), &rules);
        // What CPython would compile for it: the scanner saw `__class__`, so no differential.
        let compiled = ["f", "self", "__class__", "__name__"];
        assert_eq!(
            parser_differential(&rules, &report.seen_forbidden, compiled),
            None
        );
        // A forged compile result: CPython "read" an `eval` and a `__globals__` that the
        // scanner never saw in the source.
        let forged = ["f", "eval", "__globals__", "__class__"];
        let finding = parser_differential(&rules, &report.seen_forbidden, forged)
            .expect("a differential is found");
        assert_eq!(finding.rule, Rule::ParserDifferential);
        assert_eq!(finding.severity, Severity::Error);
        assert!(
            finding.message.contains("`__globals__`") && finding.message.contains("`eval`"),
            "{}",
            finding.message
        );
        // Identifiers are compared as Python compares them (NFKC).
        let lookalike = ["\u{ff45}val"];
        assert!(parser_differential(&rules, &BTreeSet::new(), lookalike).is_some());
    }
}
