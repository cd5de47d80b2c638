//! What the scanner targets share: the checks on a report, and the Python generator.

use std::sync::LazyLock;

use pyward_policy::Policy;
use pyward_policy::scan::{self, ScanRules, Severity, Verdict};

/// The default policy's scan rules, built once rather than on every input.
static RULES: LazyLock<ScanRules> = LazyLock::new(|| Policy::default().scan);

/// Scan `source` under the default policy. Checks: no panic; the verdict is "rejected"
/// exactly when a finding is an error; every finding points inside the file and says why.
pub fn check_scan(source: &[u8]) {
    let report = scan::scan_source("fuzz.py", source, &RULES);
    let errors = report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    assert_eq!(report.verdict == Verdict::Rejected, errors, "{report:?}");
    let lines = source.split(|&b| b == b'\n').count();
    for f in &report.findings {
        assert!(
            f.line <= lines,
            "line {} of a {lines}-line file: {f:?}",
            f.line
        );
        assert!(!f.message.is_empty(), "{f:?}");
    }
}

/// Names and strings an escape is made of, mixed with ordinary ones.
#[rustfmt::skip]
const NAMES: &[&str] = &[
    "x", "y", "self", "ctx", "data", "os", "sys", "eval", "exec", "__import__", "open", "compile",
    "getattr", "setattr", "globals", "vars", "type", "object", "builtins", "__builtins__",
    "pyward", "json", "re", "subprocess", "ctypes", "print", "len", "str", "chr", "lambda_",
];
#[rustfmt::skip]
const ATTRS: &[&str] = &[
    "append", "join", "get", "__class__", "__bases__", "__mro__", "__subclasses__",
    "__globals__", "__code__", "__dict__", "__init__", "system", "popen", "f_back", "gi_frame",
    "format", "upper", "__getattribute__", "modules", "load_module",
];
#[rustfmt::skip]
const STRINGS: &[&str] = &[
    "hi", "os", "system", "__subclasses__", "__glo", "bals__", "sub", "process", "{0.__class__}",
    "import os", "eval", "%s", "\\x6f\\x73", "__", "builtins",
];
#[rustfmt::skip]
const MODULES: &[&str] = &[
    "json", "re", "math", "os", "sys", "subprocess", "importlib", "pyward", "os.path", "ctypes",
];

/// A cursor over the fuzzer's bytes: each choice takes one byte; past the end, choices are 0.
struct Choices<'a> {
    bytes: &'a [u8],
}

impl Choices<'_> {
    fn pick(&mut self, n: usize) -> usize {
        let (&b, rest) = self.bytes.split_first().unwrap_or((&0, &[]));
        self.bytes = rest;
        usize::from(b) % n
    }

    fn from<'s>(&mut self, list: &[&'s str]) -> &'s str {
        list[self.pick(list.len())]
    }
}

/// A Python program built from `bytes`.
pub fn python(bytes: &[u8]) -> String {
    let mut c = Choices { bytes };
    let mut out = String::new();
    while !c.bytes.is_empty() && out.len() < 20_000 {
        statement(&mut c, &mut out, 0, 0);
    }
    out
}

fn indent(out: &mut String, level: usize) {
    out.extend(std::iter::repeat_n("    ", level));
}

fn statement(c: &mut Choices, out: &mut String, level: usize, depth: usize) {
    indent(out, level);
    let compound = depth < 4;
    match c.pick(if compound { 12 } else { 6 }) {
        0 => {
            let name = c.from(NAMES);
            out.push_str(&format!("{name} = {}\n", expr(c, 0)));
        }
        1 => out.push_str(&format!("import {}\n", c.from(MODULES))),
        2 => out.push_str(&format!(
            "from {} import {}\n",
            c.from(MODULES),
            c.from(NAMES)
        )),
        3 => out.push_str(&format!("{}\n", expr(c, 0))),
        4 => out.push_str(&format!("return {}\n", expr(c, 0))),
        5 => out.push_str(&format!(
            "{}.{} = {}\n",
            expr(c, 2),
            c.from(ATTRS),
            expr(c, 0)
        )),
        n => {
            let header = match n {
                6 => format!("def {}({}, *a, **k):", c.from(NAMES), c.from(NAMES)),
                7 => format!("class {}({}):", c.from(NAMES), c.from(NAMES)),
                8 => format!("if {}:", expr(c, 0)),
                9 => format!("for {} in {}:", c.from(NAMES), expr(c, 0)),
                10 => format!("with {} as {}:", expr(c, 0), c.from(NAMES)),
                _ => "try:".to_string(),
            };
            out.push_str(&header);
            out.push('\n');
            for _ in 0..=c.pick(3) {
                statement(c, out, level + 1, depth + 1);
            }
            if n == 11 {
                indent(out, level);
                out.push_str("except Exception as e:\n");
                statement(c, out, level + 1, depth + 1);
            }
        }
    }
}

fn expr(c: &mut Choices, depth: usize) -> String {
    if depth > 6 {
        return c.from(NAMES).to_string();
    }
    let d = depth + 1;
    match c.pick(14) {
        0 | 1 => c.from(NAMES).to_string(),
        2 => format!("{}.{}", expr(c, d), c.from(ATTRS)),
        3 => format!("{}({})", expr(c, d), expr(c, d)),
        4 => format!("{:?}", c.from(STRINGS)),
        5 => format!("({:?} + {:?})", c.from(STRINGS), c.from(STRINGS)),
        6 => format!("getattr({}, {})", expr(c, d), expr(c, d)),
        7 => format!("{}[{}]", expr(c, d), expr(c, d)),
        8 => format!("[{} for {} in {}]", expr(c, d), c.from(NAMES), expr(c, d)),
        9 => format!("(lambda {}: {})", c.from(NAMES), expr(c, d)),
        10 => format!("f\"{{{}}}\"", expr(c, d)),
        11 => format!("{:?}.join([{}, {}])", "", expr(c, d), expr(c, d)),
        12 => format!("({} := {})", c.from(NAMES), expr(c, d)),
        _ => c.pick(1000).to_string(),
    }
}
