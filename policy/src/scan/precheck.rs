//! Checks on the raw bytes, before anything is parsed. Each either rejects what no scanner can
//! judge (a parser would read it differently from a reader, or could be made to overflow its
//! stack), or flags text tricks that make code look different from what it is.

use ruff_python_ast::token::TokenKind;
use ruff_python_parser::{Mode, lexer};

use super::{Finding, Rule};
use crate::config::line_col;

/// What the byte checks decided.
#[derive(Debug)]
pub(super) enum Precheck<'a> {
    /// The text can be parsed; `findings` holds non-fatal problems found on the way.
    Parse {
        text: &'a str,
        findings: Vec<Finding>,
    },
    /// The file must not be parsed at all.
    Reject(Vec<Finding>),
}

pub(super) fn precheck(bytes: &[u8], max_file_bytes: usize, max_nesting: usize) -> Precheck<'_> {
    if bytes.len() > max_file_bytes {
        return Precheck::Reject(vec![Finding::at_start(
            Rule::FileTooLarge,
            format!(
                "file is {} bytes, over the policy's limit of {max_file_bytes} bytes (scan.max_file_bytes)",
                bytes.len()
            ),
        )]);
    }
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        let (line, column) = byte_line_col(bytes, pos);
        return Precheck::Reject(vec![Finding::new(
            Rule::NulByte,
            line,
            column,
            "\\0",
            "file contains a NUL byte; Python tools disagree on what follows one, so the file cannot be judged",
        )]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let (line, column) = byte_line_col(bytes, e.valid_up_to());
            return Precheck::Reject(vec![Finding::new(
                Rule::NotUtf8,
                line,
                column,
                "",
                format!(
                    "file is not valid UTF-8 (bad byte at offset {}); save it as UTF-8",
                    e.valid_up_to()
                ),
            )]);
        }
    };

    let mut findings = Vec::new();
    if let Some(finding) = coding_declaration(text) {
        findings.push(finding);
    }
    if let Some(pos) = lone_carriage_return(text) {
        let (line, column) = line_col(text, pos);
        findings.push(Finding::new(
            Rule::LoneCarriageReturn,
            line,
            column,
            "\\r",
            "a carriage return not followed by a newline starts a new line for Python but not for most editors and scanners; use \\n line endings",
        ));
    }
    for (pos, ch) in text
        .char_indices()
        .filter(|(_, c)| is_invisible_control(*c))
    {
        let (line, column) = line_col(text, pos);
        findings.push(Finding::new(
            Rule::InvisibleCharacter,
            line,
            column,
            format!("U+{:04X}", ch as u32),
            "bidirectional or invisible control character: it can make code read differently from how it runs (Trojan Source); remove it",
        ));
    }

    if let Some(depth_at) = too_deep(text, max_nesting) {
        let (line, column) = line_col(text, depth_at);
        findings.push(Finding::new(
            Rule::NestingTooDeep,
            line,
            column,
            "",
            format!(
                "code is nested deeper than {max_nesting} levels (brackets, blocks and operators); it is rejected before parsing so that it cannot exhaust the scanner's stack (scan.max_nesting)"
            ),
        ));
        return Precheck::Reject(findings);
    }
    Precheck::Parse { text, findings }
}

fn byte_line_col(bytes: &[u8], pos: usize) -> (usize, usize) {
    let before = &bytes[..pos.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// PEP 263: a `coding[:=]name` comment on line 1 or 2 selects the source encoding. Anything but
/// UTF-8 is refused: `utf-7`, `unicode_escape` and friends turn comments into code.
fn coding_declaration(text: &str) -> Option<Finding> {
    for (index, line) in text.split('\n').take(2).enumerate() {
        let trimmed = line.trim_start_matches([' ', '\t', '\x0c']);
        if !trimmed.starts_with('#') {
            continue;
        }
        let Some(at) = trimmed.find("coding") else {
            continue;
        };
        let rest = &trimmed[at + "coding".len()..];
        let Some(rest) = rest.strip_prefix([':', '=']) else {
            continue;
        };
        let name: String = rest
            .trim_start_matches([' ', '\t'])
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        if name.is_empty() {
            continue;
        }
        let normalised = name.to_ascii_lowercase().replace('_', "-");
        if matches!(normalised.as_str(), "utf-8" | "utf8" | "utf-8-sig") {
            return None;
        }
        let column = line.len() - trimmed.len() + 1;
        return Some(Finding::new(
            Rule::CodingDeclaration,
            index + 1,
            column,
            trimmed.trim_end(),
            format!(
                "source declares the encoding `{name}`; only UTF-8 is accepted, because other codecs can hide code inside comments and strings"
            ),
        ));
    }
    None
}

fn lone_carriage_return(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    text.match_indices('\r')
        .map(|(i, _)| i)
        .find(|&i| bytes.get(i + 1) != Some(&b'\n'))
}

fn is_invisible_control(c: char) -> bool {
    matches!(c,
        '\u{202A}'..='\u{202E}' // embeddings and overrides
        | '\u{2066}'..='\u{2069}' // isolates
        | '\u{200E}' | '\u{200F}' | '\u{061C}' // marks
    )
}

/// An upper bound on how deeply the parser will recurse, from tokens alone (the lexer is not
/// recursive). Returns the byte offset where `max` is first exceeded, or `None`.
///
/// Within one logical line, every bracket opens a level; inside a level, each token that can
/// nest an expression (operators, keywords, opening brackets, f-string starts) adds one, and a
/// comma at that level resets it (comma-separated items are siblings). Inside a lambda's
/// parameter list commas do not reset, so `lambda a, b: lambda c, d: ...` is still counted.
/// Indented blocks add one level each. The bound is conservative: real code sits far below it.
fn too_deep(text: &str, max: usize) -> Option<usize> {
    if nesting_exceeds(text, max) {
        // Find where, by bisecting on prefixes: only on the rejection path.
        let (mut lo, mut hi) = (0usize, text.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let mut cut = mid;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            if nesting_exceeds(&text[..cut], max) {
                hi = cut.min(hi);
                if hi == mid {
                    break;
                }
            } else {
                lo = mid + 1;
            }
        }
        return Some(hi.saturating_sub(1));
    }
    None
}

#[derive(Debug, Default)]
struct Level {
    run: usize,
    lambdas_open: usize,
}

pub(super) fn nesting_exceeds(text: &str, max: usize) -> bool {
    let mut lexer = lexer::lex(text, Mode::Module);
    let mut blocks = 0usize;
    let mut levels: Vec<Level> = vec![Level::default()];
    loop {
        let kind = lexer.next_token();
        match kind {
            TokenKind::EndOfFile => return false,
            TokenKind::Newline => {
                levels.clear();
                levels.push(Level::default());
                continue;
            }
            TokenKind::Indent => blocks += 1,
            TokenKind::Dedent => blocks = blocks.saturating_sub(1),
            TokenKind::NonLogicalNewline | TokenKind::Comment => {}
            TokenKind::Name
            | TokenKind::Int
            | TokenKind::Float
            | TokenKind::Complex
            | TokenKind::String
            | TokenKind::FStringMiddle
            | TokenKind::TStringMiddle
            | TokenKind::True
            | TokenKind::False
            | TokenKind::None
            | TokenKind::Ellipsis
            | TokenKind::Semi => {}
            TokenKind::Comma => {
                if let Some(level) = levels.last_mut()
                    && level.lambdas_open == 0
                {
                    level.run = 0;
                }
            }
            TokenKind::Colon => {
                if let Some(level) = levels.last_mut() {
                    level.lambdas_open = level.lambdas_open.saturating_sub(1);
                    level.run += 1;
                }
            }
            TokenKind::Lpar
            | TokenKind::Lsqb
            | TokenKind::Lbrace
            | TokenKind::FStringStart
            | TokenKind::TStringStart => {
                if let Some(level) = levels.last_mut() {
                    level.run += 1;
                }
                levels.push(Level::default());
            }
            TokenKind::Rpar
            | TokenKind::Rsqb
            | TokenKind::Rbrace
            | TokenKind::FStringEnd
            | TokenKind::TStringEnd => {
                if levels.len() > 1 {
                    levels.pop();
                }
            }
            TokenKind::Lambda => {
                if let Some(level) = levels.last_mut() {
                    level.run += 1;
                    level.lambdas_open += 1;
                }
            }
            // Every other token is an operator or keyword that can nest what follows it.
            _ => {
                if let Some(level) = levels.last_mut() {
                    level.run += 1;
                }
            }
        }
        let depth = blocks + levels.iter().map(|l| l.run + 1).sum::<usize>();
        if depth > max {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(text: &str) -> bool {
        nesting_exceeds(text, 100)
    }

    #[test]
    fn ordinary_code_is_far_below_the_bound() {
        let data: String = (0..2000).map(|i| format!("{{\"k\": -{i}}}, ")).collect();
        assert!(!deep(&format!("x = [{data}]\n")));
        let chain: String = (0..40).map(|i| format!("a{i} + ")).collect();
        assert!(!deep(&format!("y = {chain}1\n")));
        assert!(!deep(
            "def f(a, b):\n    if a:\n        return [x for x in b if x]\n"
        ));
    }

    #[test]
    fn every_nesting_construct_is_counted() {
        for (unit, end) in [
            ("(", ""),
            ("[", ""),
            ("{", ""),
            ("-", "1"),
            ("not ", "1"),
            ("await ", "x"),
            ("lambda: ", "1"),
            ("lambda a, b: ", "1"),
            ("x if y else ", "z"),
            ("1 + ", "1"),
            ("2 ** ", "2"),
            ("f(", ""),
            ("a.", "b"),
        ] {
            let src = format!("v = {}{end}\n", unit.repeat(150));
            assert!(deep(&src), "{unit:?} x150 not counted");
        }
        let call_chain = format!("v = f{}\n", "()".repeat(150));
        assert!(deep(&call_chain));
        let fstrings = format!("v = {}1{}\n", "f'{".repeat(60), "}'".repeat(60));
        assert!(deep(&fstrings));
        let blocks: String = (0..120)
            .map(|i| format!("{}if x:\n", "    ".repeat(i)))
            .collect();
        assert!(deep(&format!("{blocks}{}pass\n", "    ".repeat(120))));
    }

    #[test]
    fn rejection_points_at_the_deep_spot() {
        let text = format!("a = 1\nb = 2\nc = {}1\n", "-".repeat(500));
        let at = too_deep(&text, 100).unwrap();
        assert_eq!(line_col(&text, at).0, 3);
    }

    #[test]
    fn coding_cookies() {
        assert!(coding_declaration("# -*- coding: utf-7 -*-\nx=1\n").is_some());
        assert!(
            coding_declaration("#!/usr/bin/python\n# vim: set fileencoding=unicode_escape :\n")
                .is_some()
        );
        assert!(coding_declaration("# coding=utf-8\n").is_none());
        assert!(coding_declaration("# -*- coding: UTF_8 -*-\n").is_none());
        assert!(coding_declaration("x = 1\ny = 2\n# coding: utf-7\n").is_none());
    }

    #[test]
    fn lone_cr_found_but_crlf_accepted() {
        assert_eq!(lone_carriage_return("a\r\nb\n"), None);
        assert_eq!(lone_carriage_return("a\rb\n"), Some(1));
    }
}
