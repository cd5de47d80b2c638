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
mod walk;

use std::collections::BTreeSet;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

pub use report::{FileReport, ScanSummary, Verdict, render_json, render_sarif, render_text};

use crate::config::{RawScan, line_col};

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

/// Longest `text` kept in a finding.
const MAX_SNIPPET: usize = 120;

impl Finding {
    pub fn new(
        rule: Rule,
        line: usize,
        column: usize,
        text: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        let mut text: String = text.into();
        if text.len() > MAX_SNIPPET {
            let mut cut = MAX_SNIPPET;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
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

/// The scan part of the policy, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRules {
    pub max_file_bytes: usize,
    pub max_nesting: usize,
    pub allowed_imports: NameSet,
    pub forbidden_names: NameSet,
    pub forbidden_attributes: NameSet,
    /// Attributes that matter only on the host's client object (session control): flagged where
    /// the receiver could be a client handed to the module, not on values the module made.
    pub client_attributes: NameSet,
    /// Methods a module may not define: the interpreter calls them behind the code's back.
    pub forbidden_hook_methods: NameSet,
    pub forbidden_patterns: PatternSet,
    pub prelude_marker: Option<String>,
    /// Hex SHA-256 digests of preludes that may be skipped.
    pub trusted_preludes: BTreeSet<String>,
    pub dangerously_skip_scan: bool,
    /// Every identifier any rule treats specially, with what it is ([`kind`] flags): one lookup
    /// per name the scanner meets instead of one per list.
    kinds: rustc_hash::FxHashMap<String, u16>,
}

/// Flags of [`ScanRules::kind`]: what an identifier is to the scanner.
pub(crate) mod kind {
    pub const FORBIDDEN_NAME: u16 = 1;
    pub const FORBIDDEN_ATTRIBUTE: u16 = 1 << 1;
    pub const CLIENT_ATTRIBUTE: u16 = 1 << 2;
    pub const HOOK_METHOD: u16 = 1 << 3;
    /// `getattr`, `setattr`, `delattr`, `hasattr`.
    pub const ATTRIBUTE_BY_NAME: u16 = 1 << 4;
    /// A standard module that reaches the operating system or the interpreter's internals.
    pub const SYSTEM_MODULE: u16 = 1 << 5;
    /// `format`, `format_map`, `vformat`.
    pub const FORMAT_METHOD: u16 = 1 << 6;
    /// `attrgetter`, `methodcaller`, `update_wrapper`, `wraps`.
    pub const NAME_TAKING: u16 = 1 << 7;
    /// On a policy list: what `seen_forbidden` and [`super::forbidden_identifiers`] report.
    pub const ON_A_LIST: u16 =
        FORBIDDEN_NAME | FORBIDDEN_ATTRIBUTE | CLIENT_ATTRIBUTE | HOOK_METHOD;
}

/// The forbidden text patterns, matched case-insensitively in one pass (Aho-Corasick). A pattern
/// that starts or ends with an identifier character matches only at a word edge there.
#[derive(Clone)]
pub struct PatternSet {
    patterns: Vec<String>,
    automaton: aho_corasick::AhoCorasick,
}

impl PatternSet {
    pub fn new(patterns: &[String]) -> PatternSet {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_lowercase()).collect();
        let automaton = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&patterns)
            .expect("a few short literal patterns always build");
        PatternSet {
            patterns,
            automaton,
        }
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The first pattern found in `haystack` at proper word edges.
    pub fn find_in(&self, haystack: &str) -> Option<&str> {
        // Nearly every string holds no pattern at all: say so without the overlapping search.
        if !self.automaton.is_match(haystack) {
            return None;
        }
        let is_word = |c: char| c.is_alphanumeric() || c == '_';
        self.automaton
            .find_overlapping_iter(haystack)
            .find(|m| {
                let pattern = &self.patterns[m.pattern().as_usize()];
                let starts_word = pattern.chars().next().is_some_and(is_word);
                let ends_word = pattern.chars().last().is_some_and(is_word);
                let before_ok = !starts_word
                    || haystack[..m.start()]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !is_word(c));
                let after_ok = !ends_word
                    || haystack[m.end()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !is_word(c));
                before_ok && after_ok
            })
            .map(|m| self.patterns[m.pattern().as_usize()].as_str())
    }
}

impl PartialEq for PatternSet {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl std::fmt::Debug for PatternSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.patterns).finish()
    }
}

/// A set of identifiers, looked up on every name the scanner meets (hence a fast hash).
pub type NameSet = rustc_hash::FxHashSet<String>;

/// Highest `scan.max_nesting` a policy may set: the parser's recursion at that depth must fit in
/// a 2 MiB thread stack (`scanner_survives_max_nesting_on_small_stack` proves it).
pub const MAX_NESTING_LIMIT: usize = 200;

impl ScanRules {
    pub(crate) fn from_raw(raw: &RawScan, mut error: impl FnMut(String, String)) -> ScanRules {
        if raw.max_file_bytes == 0 || raw.max_file_bytes > 16 << 20 {
            error(
                "scan.max_file_bytes".into(),
                "must be between 1 and 16777216".into(),
            );
        }
        if !(10..=MAX_NESTING_LIMIT).contains(&raw.max_nesting) {
            error(
                "scan.max_nesting".into(),
                format!("must be between 10 and {MAX_NESTING_LIMIT}"),
            );
        }
        let identifiers = |key: &str, list: &[String], error: &mut dyn FnMut(String, String)| {
            let mut out = NameSet::default();
            for (i, item) in list.iter().enumerate() {
                let normalised: String = item.nfkc().collect();
                let valid = !normalised.is_empty()
                    && normalised.split('.').all(|p| {
                        !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_')
                    });
                if valid {
                    out.insert(normalised);
                } else {
                    error(
                        format!("scan.{key}[{i}]"),
                        format!("`{item}` is not a Python identifier"),
                    );
                }
            }
            out
        };
        let allowed_imports = identifiers("allowed_imports", &raw.allowed_imports, &mut error);
        let forbidden_names = identifiers("forbidden_names", &raw.forbidden_names, &mut error);
        let forbidden_attributes = identifiers(
            "forbidden_attributes",
            &raw.forbidden_attributes,
            &mut error,
        );
        let client_attributes =
            identifiers("client_attributes", &raw.client_attributes, &mut error);
        let forbidden_hook_methods = identifiers(
            "forbidden_hook_methods",
            &raw.forbidden_hook_methods,
            &mut error,
        );
        let mut kinds: rustc_hash::FxHashMap<String, u16> = rustc_hash::FxHashMap::default();
        for (set, flag) in [
            (&forbidden_names, kind::FORBIDDEN_NAME),
            (&forbidden_attributes, kind::FORBIDDEN_ATTRIBUTE),
            (&client_attributes, kind::CLIENT_ATTRIBUTE),
            (&forbidden_hook_methods, kind::HOOK_METHOD),
        ] {
            for name in set {
                *kinds.entry(name.clone()).or_default() |= flag;
            }
        }
        for (name, flag) in walk::fixed_kinds() {
            *kinds.entry(name.to_string()).or_default() |= flag;
        }
        for (i, p) in raw.forbidden_patterns.iter().enumerate() {
            if p.trim().is_empty() {
                error(
                    format!("scan.forbidden_patterns[{i}]"),
                    "must not be empty".into(),
                );
            }
        }
        for (i, digest) in raw.trusted_preludes.iter().enumerate() {
            if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
                error(
                    format!("scan.trusted_preludes[{i}]"),
                    "must be a hex SHA-256 digest (64 hex digits)".into(),
                );
            }
        }
        if !raw.trusted_preludes.is_empty() && raw.prelude_marker.is_none() {
            error(
                "scan.trusted_preludes".into(),
                "needs scan.prelude_marker to say where a prelude ends".into(),
            );
        }
        ScanRules {
            max_file_bytes: raw.max_file_bytes,
            max_nesting: raw.max_nesting,
            allowed_imports,
            forbidden_names,
            forbidden_attributes,
            client_attributes,
            forbidden_hook_methods,
            forbidden_patterns: PatternSet::new(&raw.forbidden_patterns),
            prelude_marker: raw.prelude_marker.clone(),
            trusted_preludes: raw
                .trusted_preludes
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            dangerously_skip_scan: raw.dangerously_skip_scan,
            kinds,
        }
    }

    /// What `identifier` (NFKC-normalised) is to the scanner: [`kind`] flags, 0 for most.
    pub(crate) fn kind(&self, identifier: &str) -> u16 {
        self.kinds.get(identifier).copied().unwrap_or(0)
    }

    /// Is `identifier` (NFKC-normalised) on any forbidden list (forbidden names, forbidden
    /// attributes, client attributes, hook methods)?
    pub fn is_forbidden_identifier(&self, identifier: &str) -> bool {
        self.kind(identifier) & kind::ON_A_LIST != 0
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
            let normal: std::borrow::Cow<'_, str> = if w.is_ascii() {
                w.into()
            } else {
                w.nfkc().collect::<String>().into()
            };
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

impl Default for ScanRules {
    fn default() -> Self {
        crate::config::Policy::default().scan
    }
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
