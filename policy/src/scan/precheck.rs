//! Checks on the raw bytes, before anything is parsed. Each either rejects what no scanner can
//! judge (a parser would read it differently from a reader, or could be made to overflow its
//! stack), or flags text tricks that make code look different from what it is.

use ruff_python_ast::token::TokenKind;
use ruff_python_parser::{Mode, lexer};

use super::{Finding, Rule};
use crate::position::{Cursor, line_col};

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
    // A file may hold many of them, even on one line: one pass, not a scan per finding.
    let mut cursor = Cursor::new(text);
    for (pos, ch) in invisible_controls(text) {
        let (line, column) = cursor.advance_to(pos);
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

/// The invisible controls in `text`, found by their UTF-8 lead bytes (0xE2 for U+2000–U+2FFF,
/// 0xD8 for U+061C) rather than by decoding every character: most source is ASCII.
fn invisible_controls(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    memchr::memchr2_iter(0xE2, 0xD8, text.as_bytes())
        .filter_map(|i| text[i..].chars().next().map(|c| (i, c)))
        .filter(|&(_, c)| is_invisible_control(c))
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

#[derive(Debug, Default, Clone, Copy)]
struct Level {
    run: usize,
    lambdas_open: usize,
}

/// Does the nesting bound of `text` exceed `max`? A byte-level pass ([`fast_max_depth`])
/// answers for ordinary source; whatever it cannot vouch for is counted from the lexer's
/// tokens ([`lexer_max_depth`]).
pub(super) fn nesting_exceeds(text: &str, max: usize) -> bool {
    if fast_max_depth(text).is_some_and(|depth| depth <= max) {
        return false;
    }
    lexer_max_depth(text, max) > max
}

/// The nesting bound described at [`too_deep`], from the lexer's tokens: the deepest level
/// reached, or the first level above `stop_above` (it stops there).
fn lexer_max_depth(text: &str, stop_above: usize) -> usize {
    let mut deepest = 0;
    let mut lexer = lexer::lex(text, Mode::Module);
    let mut blocks = 0usize;
    let mut levels: Vec<Level> = vec![Level::default()];
    // The sum over levels of (run + 1), kept up to date rather than summed per token.
    let mut sum = 1usize;
    loop {
        let kind = lexer.next_token();
        match kind {
            TokenKind::EndOfFile => return deepest,
            TokenKind::Newline => {
                levels.clear();
                levels.push(Level::default());
                sum = 1;
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
                    sum -= level.run;
                    level.run = 0;
                }
            }
            TokenKind::Colon => {
                if let Some(level) = levels.last_mut() {
                    level.lambdas_open = level.lambdas_open.saturating_sub(1);
                    level.run += 1;
                    sum += 1;
                }
            }
            TokenKind::Lpar
            | TokenKind::Lsqb
            | TokenKind::Lbrace
            | TokenKind::FStringStart
            | TokenKind::TStringStart => {
                if let Some(level) = levels.last_mut() {
                    level.run += 1;
                    sum += 1;
                }
                levels.push(Level::default());
                sum += 1;
            }
            TokenKind::Rpar
            | TokenKind::Rsqb
            | TokenKind::Rbrace
            | TokenKind::FStringEnd
            | TokenKind::TStringEnd => {
                if levels.len() > 1
                    && let Some(level) = levels.pop()
                {
                    sum -= level.run + 1;
                }
            }
            TokenKind::Lambda => {
                if let Some(level) = levels.last_mut() {
                    level.run += 1;
                    level.lambdas_open += 1;
                    sum += 1;
                }
            }
            // Every other token is an operator or keyword that can nest what follows it.
            _ => {
                if let Some(level) = levels.last_mut() {
                    level.run += 1;
                    sum += 1;
                }
            }
        }
        let depth = blocks + sum;
        deepest = deepest.max(depth);
        if depth > stop_above {
            return depth;
        }
    }
}

/// What a bracket-like token opened, in [`fast_max_depth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Paren,
    Square,
    Brace,
    /// The literal part of an f-string or t-string.
    Interpolated {
        quote: u8,
        triple: bool,
        raw: bool,
    },
    /// A replacement field `{...}` of the f-string below it; `spec` after its format-spec colon.
    Field {
        spec: bool,
    },
}

/// Keywords and soft keywords: the lexer gives each its own token, which counts as an operator
/// in the nesting bound (`True`, `False` and `None` are values and do not count).
fn is_keyword(word: &[u8]) -> bool {
    if word.len() > 8 || !word[0].is_ascii_lowercase() {
        return false;
    }
    matches!(
        word,
        b"and"
            | b"as"
            | b"assert"
            | b"async"
            | b"await"
            | b"break"
            | b"case"
            | b"class"
            | b"continue"
            | b"def"
            | b"del"
            | b"elif"
            | b"else"
            | b"except"
            | b"finally"
            | b"for"
            | b"from"
            | b"global"
            | b"if"
            | b"import"
            | b"in"
            | b"is"
            | b"lazy"
            | b"lambda"
            | b"match"
            | b"nonlocal"
            | b"not"
            | b"or"
            | b"pass"
            | b"raise"
            | b"return"
            | b"try"
            | b"type"
            | b"while"
            | b"with"
            | b"yield"
    )
}

/// ASCII letters, digits and `_`: the bytes of an ASCII identifier, by table lookup.
const IDENTIFIER: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric() || b == b'_';
        c += 1;
    }
    table
};

/// String prefixes the lexer accepts (`rb`, `F`, `tR`, ...): (f-string or t-string, raw).
fn string_prefix(word: &[u8]) -> Option<(bool, bool)> {
    let lower: Vec<u8> = word.iter().map(u8::to_ascii_lowercase).collect();
    match lower.as_slice() {
        b"r" => Some((false, true)),
        b"u" | b"b" => Some((false, false)),
        b"f" | b"t" => Some((true, false)),
        b"rf" | b"fr" | b"rt" | b"tr" => Some((true, true)),
        b"rb" | b"br" => Some((false, true)),
        _ => None,
    }
}

/// The same bound as [`lexer_max_depth`] (never less), computed from the bytes in one pass: the
/// lexer costs as much again as the parse, and ordinary source needs none of its generality.
/// The pass models exactly what the bound depends on (strings and comments, brackets, logical
/// lines, indentation, keywords, f-string replacement fields and format specs) and counts every
/// operator character as a token of its own, which can only raise the bound. Whatever it does
/// not model exactly (non-ASCII outside strings, tabs or form feeds, `\r` line ends, strings,
/// comments or backslashes inside replacement fields, anything the lexer would call an error)
/// makes it give up (`None`), and the lexer decides.
fn fast_max_depth(text: &str) -> Option<usize> {
    // `\r` ends a line (and a comment) for the lexer, wherever it is: not modelled here.
    if text.contains('\r') {
        return None;
    }
    let b = text.as_bytes();
    let n = b.len();
    let mut i = 0;
    // One level per open bracket, f-string and replacement field, over the logical line's base.
    let mut base = Level::default();
    let mut opens: Vec<(Open, Level)> = Vec::new();
    let mut blocks = 0usize;
    let mut indents: Vec<usize> = vec![0];
    let mut at_line_start = true;
    // blocks + the sum over levels of (run + 1), kept up to date.
    let mut depth = 1usize;
    let mut deepest = 1usize;

    macro_rules! level {
        () => {
            match opens.last_mut() {
                Some((_, level)) => level,
                None => &mut base,
            }
        };
    }
    macro_rules! bump {
        () => {{
            level!().run += 1;
            depth += 1;
            deepest = deepest.max(depth);
        }};
    }
    macro_rules! push {
        ($open:expr) => {{
            bump!();
            opens.push(($open, Level::default()));
            depth += 1;
            deepest = deepest.max(depth);
        }};
    }
    macro_rules! pop {
        () => {{
            let (_, level) = opens.pop()?;
            depth -= level.run + 1;
        }};
    }

    'modes: while i < n {
        match opens.last().map(|(open, _)| *open) {
            // The literal text of an f-string, as the lexer reads it.
            Some(Open::Interpolated { quote, triple, raw }) => {
                let mut named_unicode = false;
                loop {
                    // Only quotes, backslashes, braces and line ends matter here.
                    let skip = b[i..]
                        .iter()
                        .position(|&c| matches!(c, b'\'' | b'"' | b'\\' | b'{' | b'}' | b'\n'))?;
                    i += skip;
                    let c = b[i];
                    if c == quote {
                        if !triple {
                            i += 1;
                            pop!();
                            break;
                        }
                        if b.get(i + 1) == Some(&quote) && b.get(i + 2) == Some(&quote) {
                            i += 3;
                            pop!();
                            break;
                        }
                        i += 1;
                        continue;
                    }
                    match c {
                        b'\n' if !triple => return None,
                        b'\\' => {
                            i += 1;
                            match b.get(i) {
                                Some(b'{' | b'}') => {}
                                Some(b'N') if !raw && b.get(i + 1) == Some(&b'{') => {
                                    i += 2;
                                    named_unicode = true;
                                }
                                Some(_) => i += 1,
                                None => return None,
                            }
                        }
                        b'{' if b.get(i + 1) == Some(&b'{') => i += 2,
                        b'{' => {
                            i += 1;
                            push!(Open::Field { spec: false });
                            break;
                        }
                        b'}' if named_unicode => {
                            named_unicode = false;
                            i += 1;
                        }
                        b'}' if b.get(i + 1) == Some(&b'}') => i += 2,
                        b'}' => return None,
                        _ => i += 1,
                    }
                }
            }
            // A format spec: literal text up to a nested field or the end of the field.
            Some(Open::Field { spec: true }) => loop {
                match *b.get(i)? {
                    b'{' => {
                        i += 1;
                        push!(Open::Field { spec: false });
                        break;
                    }
                    b'}' => {
                        i += 1;
                        pop!();
                        break;
                    }
                    b'\'' | b'"' | b'\\' | b'\n' => return None,
                    _ => i += 1,
                }
            },
            // Code: between tokens, in brackets or in a replacement field.
            open => {
                let in_field = matches!(open, Some(Open::Field { .. }));
                if at_line_start {
                    let mut width = 0;
                    while b.get(i) == Some(&b' ') {
                        i += 1;
                        width += 1;
                    }
                    match b.get(i) {
                        None => break,
                        Some(b'\n') => {
                            i += 1;
                            continue;
                        }
                        Some(b'#') => {
                            i = memchr::memchr(b'\n', &b[i..]).map_or(n, |p| i + p);
                            continue;
                        }
                        Some(b'\t' | b'\x0c' | b'\\') => return None,
                        Some(_) => {}
                    }
                    at_line_start = false;
                    let current = *indents.last()?;
                    if width > current {
                        indents.push(width);
                        blocks += 1;
                        depth += 1;
                        deepest = deepest.max(depth);
                    } else {
                        while width < *indents.last()? {
                            indents.pop();
                            blocks = blocks.checked_sub(1)?;
                            depth -= 1;
                        }
                        if width != *indents.last()? {
                            return None;
                        }
                    }
                }
                // Tokens, until one opens or closes something (the mode may change) or ends
                // the logical line.
                while i < n {
                    let mut c = b[i];
                    // Runs of spaces are most of what is not a word: skip them here rather
                    // than through the dispatch below.
                    while c == b' ' {
                        i += 1;
                        match b.get(i) {
                            Some(&next) => c = next,
                            None => break 'modes,
                        }
                    }
                    match c {
                        b'\t' => i += 1,
                        b'\n' => {
                            i += 1;
                            if opens.is_empty() {
                                // The end of a logical line: the bound starts again.
                                base = Level::default();
                                depth = blocks + 1;
                                at_line_start = true;
                                continue 'modes;
                            } else if in_field {
                                return None;
                            }
                        }
                        b'#' => {
                            if in_field {
                                return None;
                            }
                            i = memchr::memchr(b'\n', &b[i..]).map_or(n, |p| i + p);
                        }
                        b'\\' => {
                            // A line continuation: the next line belongs to this logical line.
                            if in_field || b.get(i + 1) != Some(&b'\n') || i + 2 == n {
                                return None;
                            }
                            i += 2;
                        }
                        b'\'' | b'"' => {
                            if in_field {
                                return None;
                            }
                            i = skip_string(b, i)?;
                        }
                        b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                            let start = i;
                            i += b[i..]
                                .iter()
                                .position(|&c| !IDENTIFIER[usize::from(c)])
                                .unwrap_or(n - i);
                            let word = &b[start..i];
                            match b.get(i) {
                                Some(b'\'' | b'"') => match string_prefix(word) {
                                    Some(_) if in_field => return None,
                                    Some((true, raw)) => {
                                        let quote = b[i];
                                        let triple = b.get(i + 1) == Some(&quote)
                                            && b.get(i + 2) == Some(&quote);
                                        i += if triple { 3 } else { 1 };
                                        push!(Open::Interpolated { quote, triple, raw });
                                        continue 'modes;
                                    }
                                    Some((false, _)) => i = skip_string(b, i)?,
                                    None => return None,
                                },
                                Some(&x) if x >= 0x80 => return None,
                                _ if is_keyword(word) => {
                                    bump!();
                                    if word == b"lambda" {
                                        level!().lambdas_open += 1;
                                    }
                                }
                                _ => {}
                            }
                        }
                        b'0'..=b'9' => i = skip_number(b, i)?,
                        b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                            i = skip_number(b, i)?
                        }
                        b',' => {
                            i += 1;
                            let level = level!();
                            if level.lambdas_open == 0 {
                                depth -= level.run;
                                level.run = 0;
                            }
                        }
                        b':' => {
                            i += 1;
                            if open == Some(Open::Field { spec: false }) {
                                // The format spec of a replacement field starts here.
                                if let Some((open, _)) = opens.last_mut() {
                                    *open = Open::Field { spec: true };
                                }
                                let level = level!();
                                level.lambdas_open = level.lambdas_open.saturating_sub(1);
                                bump!();
                                continue 'modes;
                            }
                            if b.get(i) == Some(&b'=') {
                                // `:=` is an operator, not a colon.
                                i += 1;
                                bump!();
                            } else {
                                let level = level!();
                                level.lambdas_open = level.lambdas_open.saturating_sub(1);
                                bump!();
                            }
                        }
                        b'(' | b'[' | b'{' => {
                            i += 1;
                            push!(match c {
                                b'(' => Open::Paren,
                                b'[' => Open::Square,
                                _ => Open::Brace,
                            });
                            continue 'modes;
                        }
                        b')' | b']' | b'}' => {
                            i += 1;
                            let expected = match c {
                                b')' => Open::Paren,
                                b']' => Open::Square,
                                _ if open == Some(Open::Field { spec: false }) => {
                                    Open::Field { spec: false }
                                }
                                _ => Open::Brace,
                            };
                            if open != Some(expected) {
                                return None;
                            }
                            pop!();
                            continue 'modes;
                        }
                        b';' => i += 1,
                        b'+' | b'-' | b'*' | b'/' | b'%' | b'@' | b'&' | b'|' | b'^' | b'~'
                        | b'<' | b'>' | b'=' | b'!' | b'.' => {
                            i += 1;
                            bump!();
                        }
                        _ => return None,
                    }
                }
            }
        }
    }
    // A bracket or f-string still open at the end is an error token for the lexer.
    opens.is_empty().then_some(deepest)
}

/// The end of the string literal whose opening quote is at `start` (prefix already read), or
/// `None` if it does not end as the lexer would end it.
fn skip_string(b: &[u8], start: usize) -> Option<usize> {
    let quote = b[start];
    let triple = b.get(start + 1) == Some(&quote) && b.get(start + 2) == Some(&quote);
    let mut i = start + if triple { 3 } else { 1 };
    loop {
        i += memchr::memchr3(quote, b'\\', b'\n', &b[i..])?;
        match b[i] {
            b'\\' => i += 2,
            b'\n' if !triple => return None,
            b'\n' => i += 1,
            _ => {
                if !triple {
                    return Some(i + 1);
                }
                if b.get(i + 1) == Some(&quote) && b.get(i + 2) == Some(&quote) {
                    return Some(i + 3);
                }
                i += 1;
            }
        }
        if i >= b.len() {
            return None;
        }
    }
}

/// The end of the number starting at `start`: only what the lexer certainly reads as part of
/// it (so a keyword glued to it, as in `1if x else y`, is still read as a keyword). `None` for
/// a number the lexer rejects (it makes an error token of it, which counts in the bound).
fn skip_number(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let digits = |i: &mut usize, ok: fn(u8) -> bool| {
        while *i < b.len() && (ok(b[*i]) || b[*i] == b'_') {
            *i += 1;
        }
    };
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')) {
        let radix: fn(u8) -> bool = match b[i + 1] {
            b'x' | b'X' => |c| c.is_ascii_hexdigit(),
            b'o' | b'O' => |c| (b'0'..=b'7').contains(&c),
            _ => |c| c == b'0' || c == b'1',
        };
        i += 2;
        let first = i;
        digits(&mut i, radix);
        return (i > first && b[first] != b'_').then_some(i);
    }
    digits(&mut i, |c| c.is_ascii_digit());
    let mut float = false;
    if b.get(i) == Some(&b'.') && b.get(i + 1) != Some(&b'.') {
        if b.get(i + 1) == Some(&b'_') {
            return None;
        }
        float = true;
        i += 1;
        digits(&mut i, |c| c.is_ascii_digit());
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        if b.get(i + 1 + sign).is_some_and(u8::is_ascii_digit) {
            float = true;
            i += 1 + sign;
            digits(&mut i, |c| c.is_ascii_digit());
        }
    }
    if matches!(b.get(i), Some(b'j' | b'J')) {
        float = true;
        i += 1;
    }
    // Leading zeros in an integer (`012`) are an error; so are underscores the lexer does not
    // take as separators, which this pass does not follow.
    let text = &b[start..i];
    let leading_zero = text.len() > 1 && text[0] == b'0' && !float;
    (!leading_zero && !text.contains(&b'_')).then_some(i)
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

    /// Source that exercises every path of the byte-level pass.
    const SHAPES: &[&str] = &[
        "x = 1\n",
        "def f(a, b=2, *c, **d):\n    if a:\n        return [x for x in b if x]\n    return None\n",
        "x = f'{a}{b!r:>{width}.{prec}f} {{literal}} {c=} {d:%H:%M}'\n",
        "x = f'''multi\n{a}\nline''' + rf'\\N{x}' + f'\\N{DASH}{b}' + F\"{a:{b}{c}}\"\n",
        "x = f'{ {1: 2}[1] }' + f'{(lambda q: q)(1)}' + f'{x:=5}'\n",
        "x = t'{a}' + Rb'\\x' + br\"y\" + u'z' + '''a\\'''b'''\n",
        "y = lambda a, b: lambda c, d: (a, b, c, d)\n",
        "z = (yield) if not a and b or c in d is not e else await g()\n",
        "w = 1if x else 2\nv = 0b1and 3\nu = 0xand\nq = 1.e5j + .5 + 1..__class__\n",
        "s = x[1:2, ::3] ; t = {**a, 'k': v} ; u = -~+x ** -y // z @ w\n",
        "if x:\n    pass\n  # comment\n\n    y = 1\nelse:\n        z = (1,\n  2)\n",
        "x = 1 + \\\n    2\n",
        "match x:\n    case [a, *b] if a: pass\n    case {'k': v, **rest}: pass\ntype X = int\n",
        "class C(B, metaclass=M):\n    @property\n    def p(self) -> int:\n        return self.__x\n",
        "a = 'unterminated\n",
        "b = f'{x\n}'\n",
        "c = f'{\"q\"}'\n",
        "d = f'{x:\n}'\n",
        "e = (]\n",
        "f = x $ y\n",
        "g = é + 1\n",
        "h = 'é' + \"ü\" + '''ß''' # ä\n",
        "\tx = 1\n",
        "x = 1\r\ny = 2\r\n",
        "x = (\n  1,\n  # c\n  2)\n",
        "if a:\n  if b:\n    if c:\n      pass\n",
        "x = f'''{\na\n}'''\n",
        "x = f'{a}' f'{b}' 'c'\n",
        "x = f'\\{a}' + f'\\}}' + f'{{}}'\n",
        "x = a\tif\tb else c\n",
    ];

    /// Deterministic xorshift, for the mutation test.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn assert_bound_holds(text: &str, what: &str) {
        if let Some(fast) = fast_max_depth(text) {
            let exact = lexer_max_depth(text, usize::MAX);
            assert!(
                fast >= exact,
                "{what}: byte-level bound {fast} below the lexer's {exact} for {text:?}"
            );
        }
    }

    fn corpus_sources() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus");
        let mut sources: Vec<String> = SHAPES.iter().map(|s| s.to_string()).collect();
        for kind in ["good", "bad"] {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(kind))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            paths.sort();
            for path in paths {
                if let Ok(text) = std::fs::read_to_string(path) {
                    sources.push(text);
                }
            }
        }
        sources
    }

    /// The byte-level pass may only ever overestimate the lexer-based bound: on the shapes
    /// above, on both corpora, and on tens of thousands of mutations of them (pieces of
    /// brackets, strings, f-strings, keywords and operators spliced in at random).
    #[test]
    fn byte_level_bound_never_undercuts_the_lexer() {
        let sources = corpus_sources();
        for (i, text) in sources.iter().enumerate() {
            assert_bound_holds(text, &format!("source {i}"));
        }
        const PIECES: &[&str] = &[
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            "'",
            "\"",
            "'''",
            "f'",
            "f\"",
            "rf'",
            "t'",
            "b'",
            "{{",
            "}}",
            ":",
            ":=",
            ",",
            "lambda ",
            "lambda a, b: ",
            "not ",
            " if ",
            " else ",
            "\n",
            "\n    ",
            "\\\n",
            "#",
            "\\",
            "\\N{",
            "!r",
            "=",
            "**",
            "-",
            ".",
            "1",
            "0x",
            "1e",
            "x",
            " and ",
            "f'{a:{b}}'",
            "f'{x}'",
            "é",
            "\t",
            "\r\n",
            ";",
            "f'''",
            "\"\"\"",
        ];
        // PYWARD_MUTATION_ROUNDS=1000000 PYWARD_MUTATION_SEED=... for a longer hunt.
        let env = |key: &str, default: u64| {
            std::env::var(key)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let mut state = env("PYWARD_MUTATION_SEED", 0x9E37_79B9_7F4A_7C15) | 1;
        let mut fast_answers = 0;
        let rounds = env("PYWARD_MUTATION_ROUNDS", 40_000) as usize;
        for round in 0..rounds {
            let base = &sources[(next(&mut state) % sources.len() as u64) as usize];
            let mut text = base.clone();
            for _ in 0..1 + next(&mut state) % 4 {
                let mut at = (next(&mut state) % (text.len() as u64 + 1)) as usize;
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                if next(&mut state).is_multiple_of(5) {
                    let mut end = (at + (next(&mut state) % 12) as usize).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, "");
                } else {
                    let piece = PIECES[(next(&mut state) % PIECES.len() as u64) as usize];
                    text.insert_str(at, piece);
                }
            }
            fast_answers += usize::from(fast_max_depth(&text).is_some());
            assert_bound_holds(&text, &format!("mutation {round}"));
        }
        // Many mutations still take the byte-level path: the property is tested, not skipped.
        assert!(
            fast_answers > rounds / 4,
            "only {fast_answers} of {rounds} mutations took the byte-level path"
        );
    }

    /// The same property over a directory of sources (`scripts/bench-scan --generate DIR`).
    #[test]
    #[ignore = "set PYWARD_BENCH_DIR to a directory of Python files"]
    fn byte_level_bound_on_a_directory() {
        let Ok(dir) = std::env::var("PYWARD_BENCH_DIR") else {
            eprintln!("SKIPPED: PYWARD_BENCH_DIR is not set");
            return;
        };
        let (mut files, mut fast) = (0, 0);
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            files += 1;
            fast += usize::from(fast_max_depth(&text).is_some());
            assert_bound_holds(&text, "file");
        }
        eprintln!("{fast} of {files} files took the byte-level path");
    }

    #[test]
    #[ignore = "set PYWARD_BENCH_DIR to a directory of Python files; run with --release"]
    fn byte_level_pass_timing() {
        let Ok(dir) = std::env::var("PYWARD_BENCH_DIR") else {
            return;
        };
        let texts: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let fast: usize = texts.iter().filter_map(|t| fast_max_depth(t)).sum();
            let fast_time = t.elapsed();
            let t = std::time::Instant::now();
            let exact: usize = texts.iter().map(|t| lexer_max_depth(t, usize::MAX)).sum();
            eprintln!(
                "byte-level {fast_time:?} ({fast}), lexer {:?} ({exact})",
                t.elapsed()
            );
        }
    }

    #[test]
    fn ordinary_modules_take_the_byte_level_path() {
        let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/good");
        for entry in std::fs::read_dir(good).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let fast = fast_max_depth(&text);
            assert!(
                fast.is_some_and(|d| d <= 100),
                "{}: {fast:?}",
                path.display()
            );
        }
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
    fn invisible_controls_are_found_among_other_text() {
        let text = "a\u{2028}é\u{202E}b\u{061C}\u{2066}\u{0600}";
        let found: Vec<char> = invisible_controls(text).map(|(_, c)| c).collect();
        assert_eq!(found, ['\u{202E}', '\u{061C}', '\u{2066}']);
        let all: Vec<usize> = text
            .char_indices()
            .filter(|(_, c)| is_invisible_control(*c))
            .map(|(i, _)| i)
            .collect();
        let fast: Vec<usize> = invisible_controls(text).map(|(i, _)| i).collect();
        assert_eq!(fast, all);
    }

    #[test]
    fn lone_cr_found_but_crlf_accepted() {
        assert_eq!(lone_carriage_return("a\r\nb\n"), None);
        assert_eq!(lone_carriage_return("a\rb\n"), Some(1));
    }
}
