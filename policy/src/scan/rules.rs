//! The scan rules: the `[scan]` section of the policy file as it may be written ([`RawScan`],
//! whose `Default` is the one place the built-in scan defaults are defined), and validated into
//! the [`ScanRules`] the scanner applies.
//!
//! The policy file embeds this section; this module knows nothing of the rest of the policy.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::walk::{self, is_identifier_char};

/// The `[scan]` section as the file may say it. Its defaults are [`RawScan::default`], only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawScan {
    pub max_file_bytes: usize,
    pub max_nesting: usize,
    pub allowed_imports: Vec<String>,
    pub forbidden_names: Vec<String>,
    pub forbidden_attributes: Vec<String>,
    pub client_attributes: Vec<String>,
    pub forbidden_hook_methods: Vec<String>,
    pub forbidden_patterns: Vec<String>,
    pub prelude_marker: Option<String>,
    pub trusted_preludes: Vec<String>,
    pub dangerously_skip_scan: bool,
}

/// Imports a module may make unless the policy says otherwise: both seeds' allowlist, the host
/// API module, and the side-effect-free standard library a bot module needs (docs/policy.md
/// says why each commonly wanted module that stays out is out). `scripts/gen-module-api` writes
/// the scanner's table of these modules' public APIs.
pub const DEFAULT_ALLOWED_IMPORTS: &[&str] = &[
    "json",
    "time",
    "math",
    "re",
    "functools",
    "collections",
    "hashlib",
    "datetime",
    "random",
    "pyward",
    "string",
    "itertools",
    "textwrap",
    "dataclasses",
    "enum",
    "typing",
    "statistics",
    "decimal",
    "fractions",
    "base64",
    "binascii",
    "html",
    "urllib.parse",
    "difflib",
    "unicodedata",
    "uuid",
    "calendar",
    "zoneinfo",
    "csv",
    "io",
    "asyncio",
    "copy",
    "bisect",
    "heapq",
    "operator",
    "secrets",
    "struct",
    "zlib",
    "__future__",
    "abc",
    "contextlib",
    "numbers",
    "array",
    "pprint",
    "shlex",
];

/// Bare names a module may not use: the builtins both seeds block (getattr and friends are judged
/// by the `dynamic-attribute` rule instead) and the interpreter's own handles.
pub const DEFAULT_FORBIDDEN_NAMES: &[&str] = &[
    "eval",
    "exec",
    "compile",
    "__import__",
    "globals",
    "locals",
    "vars",
    "dir",
    "breakpoint",
    "exit",
    "quit",
    "open",
    "input",
    "memoryview",
    "bytearray",
    "__builtins__",
    "__loader__",
    "__spec__",
    "__build_class__",
];

/// Attribute names that matter only on the host's client object: the Sekai seed's session
/// control. A module never gets the client, and `.start()`/`.stop()` are ordinary methods on
/// regex matches, ranges and slices, so the scanner flags these only where the receiver could be
/// a client handed to the module (a parameter, or a name the module never binds).
pub const DEFAULT_CLIENT_ATTRIBUTES: &[&str] = &["login", "logout", "stop", "start"];

/// Methods a module may not define: hooks the interpreter calls behind the code's back (class
/// creation, finalisation, pickling, attribute lookup, isinstance). A module-level `__getattr__`
/// or `__dir__` (PEP 562) is refused as well, whatever this list says; a class-level
/// `__getattr__` is ordinary code and is allowed.
pub const DEFAULT_FORBIDDEN_HOOK_METHODS: &[&str] = &[
    "__init_subclass__",
    "__class_getitem__",
    "__set_name__",
    "__mro_entries__",
    "__prepare__",
    "__del__",
    "__reduce__",
    "__reduce_ex__",
    "__getattribute__",
    "__instancecheck__",
    "__subclasscheck__",
    "__subclasshook__",
    "__class__",
];

/// Attribute names a module may not touch: the Sekai seed's sensitive client data, and the
/// object-model escapes of both seeds and of the classic sandbox breakouts.
pub const DEFAULT_FORBIDDEN_ATTRIBUTES: &[&str] = &[
    // sensitive client data (Sekai seed)
    "crypto",
    "api",
    "device_id",
    "access_token",
    // object model
    "__class__",
    "__bases__",
    "__base__",
    "__subclasses__",
    "__mro__",
    "mro",
    "__globals__",
    "__builtins__",
    "__code__",
    "__dict__",
    "__closure__",
    "__func__",
    "__self__",
    "__getattribute__",
    "__getattr__",
    "__setattr__",
    "__delattr__",
    "__reduce__",
    "__reduce_ex__",
    "__subclasshook__",
    "__init_subclass__",
    "__import__",
    "__loader__",
    "__spec__",
    "__traceback__",
    "__defaults__",
    "__kwdefaults__",
    "__wrapped__",
    // frames, code, generators, coroutines, tracebacks
    "f_back",
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_code",
    "f_trace",
    "gi_frame",
    "gi_code",
    "gi_yieldfrom",
    "cr_frame",
    "cr_code",
    "cr_await",
    "ag_frame",
    "ag_code",
    "tb_frame",
    "tb_next",
    "co_code",
    "co_consts",
    "func_globals",
    "_getframe",
];

/// Text that no module needs to hold in a string (pipeline seed's patterns and input sanitiser).
/// Matched case-insensitively against every string constant after constant folding; a pattern
/// made of identifier characters matches only as a whole word.
pub const DEFAULT_FORBIDDEN_PATTERNS: &[&str] = &[
    "os.system",
    "os.popen",
    "os.exec",
    "os.remove",
    "os.unlink",
    "subprocess",
    "importlib",
    "ctypes",
    "socket",
    "sys.exit",
    "sys.modules",
    "builtins",
    "posix",
    "rm -rf",
    "chmod 777",
    "| sh",
    "| bash",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Default for RawScan {
    fn default() -> Self {
        RawScan {
            max_file_bytes: 256 * 1024,
            max_nesting: 100,
            allowed_imports: strings(DEFAULT_ALLOWED_IMPORTS),
            forbidden_names: strings(DEFAULT_FORBIDDEN_NAMES),
            forbidden_attributes: strings(DEFAULT_FORBIDDEN_ATTRIBUTES),
            client_attributes: strings(DEFAULT_CLIENT_ATTRIBUTES),
            forbidden_hook_methods: strings(DEFAULT_FORBIDDEN_HOOK_METHODS),
            forbidden_patterns: strings(DEFAULT_FORBIDDEN_PATTERNS),
            prelude_marker: None,
            trusted_preludes: Vec::new(),
            dangerously_skip_scan: false,
        }
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
    pub(super) kinds: rustc_hash::FxHashMap<String, u16>,
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
    /// On a policy list: what `seen_forbidden` and [`crate::scan::forbidden_identifiers`] report.
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
        self.automaton
            .find_overlapping_iter(haystack)
            .find(|m| {
                let pattern = &self.patterns[m.pattern().as_usize()];
                let starts_word = pattern.chars().next().is_some_and(is_identifier_char);
                let ends_word = pattern.chars().last().is_some_and(is_identifier_char);
                let before_ok = !starts_word
                    || haystack[..m.start()]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !is_identifier_char(c));
                let after_ok = !ends_word
                    || haystack[m.end()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !is_identifier_char(c));
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
                    && normalised
                        .split('.')
                        .all(|p| !p.is_empty() && p.chars().all(is_identifier_char));
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

/// The rules of the built-in default policy: [`RawScan::default`], validated. The policy's own
/// default is built from the same `RawScan::default`, so the two cannot differ.
impl Default for ScanRules {
    fn default() -> Self {
        ScanRules::from_raw(&RawScan::default(), |key, message| {
            panic!("the built-in default scan rules are invalid: `{key}`: {message}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(raw: &RawScan) -> (ScanRules, Vec<(String, String)>) {
        let mut errors = Vec::new();
        let rules = ScanRules::from_raw(raw, |key, message| errors.push((key, message)));
        (rules, errors)
    }

    /// `pyward policy init` writes the default policy file; its `[scan]` table must say exactly
    /// what `RawScan::default()` says, the one place the scan defaults are defined.
    #[test]
    fn default_policy_files_scan_section_is_the_default() {
        let file: toml::Table = toml::from_str(include_str!("../default_policy.toml")).unwrap();
        let section: RawScan = file["scan"].clone().try_into().unwrap();
        assert_eq!(section, RawScan::default());
        let (rules, errors) = validate(&section);
        assert_eq!(errors, []);
        assert_eq!(rules, ScanRules::default());
    }

    #[test]
    fn scan_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = RawScan {
            max_nesting: MAX_NESTING_LIMIT,
            allowed_imports: vec!["json".into(), "urllib.parse".into()],
            prelude_marker: Some("# end".into()),
            trusted_preludes: vec!["AB".repeat(32)],
            ..RawScan::default()
        };
        let (rules, errors) = validate(&good);
        assert_eq!(errors, []);
        assert!(rules.trusted_preludes.contains(&"ab".repeat(32)));

        let bad = RawScan {
            max_nesting: MAX_NESTING_LIMIT + 1,
            forbidden_names: vec!["eval".into(), "not a name".into()],
            trusted_preludes: vec!["abc".into()],
            ..RawScan::default()
        };
        let (_, errors) = validate(&bad);
        let keys: Vec<&str> = errors.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "scan.max_nesting",
                "scan.forbidden_names[1]",
                "scan.trusted_preludes[0]",
                "scan.trusted_preludes"
            ]
        );
        assert_eq!(errors[0].1, "must be between 10 and 200");
        assert_eq!(errors[1].1, "`not a name` is not a Python identifier");
    }
}
