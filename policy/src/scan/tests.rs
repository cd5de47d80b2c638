use super::*;

fn rules() -> ScanRules {
    ScanRules::default()
}

fn scan(src: &str) -> FileReport {
    scan_source("m.py", src.as_bytes(), &rules())
}

fn rule_ids(src: &str) -> Vec<&'static str> {
    scan(src).findings.iter().map(|f| f.rule.id()).collect()
}

#[test]
fn clean_module_is_clean() {
    let report = scan(
        "import json\nimport re\n\n@pyward.command('echo')\ndef echo(text):\n    return json.dumps({'t': re.sub(r'\\s+', ' ', text)})\n",
    );
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert!(report.is_clean());
}

#[test]
fn findings_carry_place_text_and_message() {
    let report = scan("x = 1\ny = x.__class__\n");
    let f = &report.findings[0];
    assert_eq!((f.rule, f.line, f.column), (Rule::ForbiddenAttribute, 2, 5));
    assert_eq!(f.text, "x.__class__");
    assert!(f.message.contains("__class__"));
    assert_eq!(report.verdict, Verdict::Rejected);
}

#[test]
fn parse_errors_fail_closed() {
    let report = scan("def f(:\n    pass\n");
    assert_eq!(report.findings[0].rule, Rule::ParseError);
    assert_eq!(report.findings[0].line, 1);
    assert!(!report.is_clean());
}

#[test]
fn nfkc_lookalikes_are_caught() {
    assert!(rule_ids("ｅｖａｌ('1')\n").contains(&"forbidden-name"));
    assert!(rule_ids("x = getattr(o, 'ｃｒｙｐｔｏ')\n").contains(&"dynamic-attribute"));
}

#[test]
fn getattr_family() {
    assert!(rule_ids("v = getattr(o, 'name', None)\n").is_empty());
    assert_eq!(rule_ids("v = getattr(o, n)\n"), ["dynamic-attribute"]);
    assert_eq!(rule_ids("f = getattr\n"), ["dynamic-attribute"]);
    assert!(rule_ids("v = getattr(o, 'cry' + 'pto')\n").contains(&"dynamic-attribute"));
    assert!(rule_ids("v = hasattr(o, '_secret')\n").contains(&"dynamic-attribute"));
}

#[test]
fn imports() {
    assert!(rule_ids("import json, collections.abc\nfrom datetime import date\n").is_empty());
    assert_eq!(rule_ids("import os\n"), ["forbidden-import"]);
    assert_eq!(rule_ids("from json import *\n"), ["star-import"]);
    assert_eq!(rule_ids("from . import x\n"), ["relative-import"]);
    assert_eq!(rule_ids("from random import _os\n"), ["forbidden-import"]);
    assert_eq!(rule_ids("from json import codecs\n"), ["forbidden-import"]);
    assert_eq!(
        rule_ids("import random\nr = random._os\n"),
        ["forbidden-attribute"]
    );
}

#[test]
fn strings_plain_and_built() {
    assert_eq!(rule_ids("x = 'start'\n"), ["suspicious-string"]);
    assert!(
        scan("x = 'start'\n").is_clean(),
        "a warning does not reject"
    );
    assert_eq!(rule_ids("x = 'st' + 'art'\n"), ["obfuscated-string"]);
    assert_eq!(rule_ids("x = '{0.__class__}'\n"), ["forbidden-string"]);
    assert_eq!(
        rule_ids("x = '{0.crypto}'.format(c)\n"),
        ["forbidden-string"]
    );
    assert_eq!(rule_ids("x = 'rm -rf /'\n"), ["forbidden-string"]);
    assert!(rule_ids("x = 'Bot started. Use .help for commands'\n").is_empty());
}

#[test]
fn obfuscation() {
    assert!(rule_ids("x = chr(101) + chr(118)\n").contains(&"obfuscation"));
    assert!(rule_ids("x = '\\x65\\x76al'\n").contains(&"obfuscation"));
    assert!(rule_ids("x = '\\x1b[31m' + 'red'\n").is_empty());
    assert!(rule_ids("x = '-' * 20 + chr(10)\n").is_empty());
}

#[test]
fn match_class_keyword_pattern_reads_attributes() {
    let src = "match o:\n    case object(__class__=c):\n        pass\n";
    assert!(rule_ids(src).contains(&"forbidden-attribute"));
}

#[test]
fn byte_level_rejections() {
    let r = rules();
    let report = scan_source("m.py", b"x = 1\n\xff\n", &r);
    assert_eq!(report.findings[0].rule, Rule::NotUtf8);
    assert_eq!(report.findings[0].line, 2);
    assert_eq!(
        scan_source("m.py", b"x = 1\0\n", &r).findings[0].rule,
        Rule::NulByte
    );
    assert_eq!(rule_ids("# coding: utf-7\nx = 1\n"), ["coding-declaration"]);
    assert_eq!(rule_ids("x = 1\ry = 2\n"), ["lone-carriage-return"]);
    assert!(rule_ids("s = 'abc\u{202E}def'\n").contains(&"invisible-character"));
    let big = "x = 1\n".repeat(60_000);
    assert_eq!(rule_ids(&big), ["file-too-large"]);
}

#[test]
fn trusted_prelude_only_with_matching_digest() {
    let prelude = "import os\n# ── End Prelude\n";
    let src = format!("{prelude}x = 1\n");
    let with = |digests: Vec<String>| {
        let raw = crate::config::RawScan {
            prelude_marker: Some("# ── End Prelude".into()),
            trusted_preludes: digests,
            ..Default::default()
        };
        let rules = ScanRules::from_raw(&raw, |k, m| panic!("{k}: {m}"));
        scan_source("m.py", src.as_bytes(), &rules)
    };
    assert!(with(vec![sha256_hex(prelude.as_bytes())]).is_clean());
    let untrusted = with(vec!["0".repeat(64)]);
    assert_eq!(untrusted.findings[0].rule, Rule::ForbiddenImport);
}

/// Tens of thousands of levels of every nesting construct, scanned on a 2 MiB stack (a tokio
/// worker thread's size): each is rejected with a finding, none crashes the process.
#[test]
fn scanner_survives_deep_nesting_on_small_stack() {
    let cases: Vec<String> = vec![
        format!("x = {}1{}\n", "(".repeat(50_000), ")".repeat(50_000)),
        format!("x = {}1{}\n", "[".repeat(50_000), "]".repeat(50_000)),
        format!("x = {}1\n", "-".repeat(100_000)),
        format!("x = {}1\n", "not ".repeat(50_000)),
        format!("x = {}1\n", "lambda: ".repeat(30_000)),
        format!("x = {}1\n", "1 + ".repeat(50_000)),
        format!("x = {}2\n", "2 ** ".repeat(50_000)),
        format!("x = f{}\n", "()".repeat(50_000)),
        format!("x = a{}\n", ".b".repeat(50_000)),
        format!("x = {}1{}\n", "f'{".repeat(5_000), "}'".repeat(5_000)),
        format!("x = {}z\n", "a if b else ".repeat(30_000)),
        (0..3_000)
            .map(|i| format!("{}if x:\n", " ".repeat(i)))
            .collect::<String>()
            + &" ".repeat(3_000)
            + "pass\n",
    ];
    let rules = ScanRules {
        max_file_bytes: 16 << 20,
        ..rules()
    };
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for src in &cases {
                let report = scan_source("deep.py", src.as_bytes(), &rules);
                assert!(!report.is_clean(), "{}", &src[..40]);
                assert!(
                    report
                        .findings
                        .iter()
                        .any(|f| matches!(f.rule, Rule::NestingTooDeep | Rule::ParseError)),
                    "{:?}",
                    report.findings
                );
            }
        })
        .unwrap()
        .join()
        .expect("the scanner must not overflow its stack");
}

/// At the highest nesting a policy may allow, the parser and walker still fit a 2 MiB stack:
/// for each construct, the deepest input the pre-check lets through is parsed and walked.
#[test]
fn scanner_survives_max_nesting_on_small_stack() {
    let raw = crate::config::RawScan {
        max_nesting: MAX_NESTING_LIMIT,
        ..Default::default()
    };
    let rules = ScanRules::from_raw(&raw, |k, m| panic!("{k}: {m}"));
    let shapes: Vec<fn(usize) -> String> = vec![
        |n| format!("x = {}1{}\n", "(".repeat(n), ")".repeat(n)),
        |n| format!("x = {}1{}\n", "[{'a': ".repeat(n), "}]".repeat(n)),
        |n| format!("x = {}1\n", "-".repeat(n)),
        |n| format!("x = {}1\n", "not ".repeat(n)),
        |n| format!("x = {}1\n", "lambda: ".repeat(n)),
        |n| format!("x = {}1{}\n", "f'{".repeat(n), "}'".repeat(n)),
        |n| format!("x = f{}\n", "()".repeat(n)),
        |n| format!("x = {}z\n", "a if b else ".repeat(n)),
        |n| format!("x = {}2\n", "2 ** ".repeat(n)),
        |n| {
            (0..n)
                .map(|i| format!("{}if x:\n", " ".repeat(i)))
                .collect::<String>()
                + &" ".repeat(n)
                + "pass\n"
        },
    ];
    let deepest: Vec<String> = shapes
        .iter()
        .map(|shape| {
            let n = (1..2 * MAX_NESTING_LIMIT)
                .take_while(|&n| !precheck::nesting_exceeds(&shape(n), MAX_NESTING_LIMIT))
                .last()
                .expect("one level always passes");
            shape(n)
        })
        .collect();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for src in &deepest {
                let report = scan_source("deep.py", src.as_bytes(), &rules);
                assert!(
                    !report
                        .findings
                        .iter()
                        .any(|f| f.rule == Rule::NestingTooDeep),
                    "{}: {:?}",
                    &src[..20],
                    report.findings
                );
            }
        })
        .unwrap()
        .join()
        .expect("the scanner must not overflow its stack");
}
