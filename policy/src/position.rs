//! Where a byte offset is in a text, as a person counts: the line and column an error or a
//! finding names. Shared by the policy file's errors, the scanner's findings and the manifest's.

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// What a finding quotes of the source at `start..end`: its first line (scan findings and
/// manifest findings alike; [`shorten`] then bounds it).
pub fn first_line(text: &str, start: usize, end: usize) -> &str {
    let quoted = text.get(start..end).unwrap_or("");
    quoted.lines().next().unwrap_or("")
}

/// `text` as a finding quotes it: at most 120 bytes, cut at a character boundary and marked
/// with `…`.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

/// Many offsets of one text to line and column, each in O(log n) after one pass over the text
/// (where [`line_col`], which scans the text before the offset, would make many findings cost
/// quadratic time).
#[derive(Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of a byte offset, as [`line_col`] gives it.
    pub fn locate(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line, text[start..offset].chars().count() + 1)
    }
}

/// Line and column of ascending offsets of one text, in one pass over it: for a stream of
/// findings, which may be many on one line (where even [`LineIndex`] counts the line's
/// characters again for each).
#[derive(Debug)]
pub struct Cursor<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
    column: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            text,
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    /// 1-based line and column of `offset`, as [`line_col`] gives it. Offsets should come in
    /// ascending order; an earlier one starts again from the top.
    pub fn advance_to(&mut self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        if offset < self.offset {
            *self = Cursor::new(self.text);
        }
        for c in self.text[self.offset..offset].chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.offset = offset;
        (self.line, self.column)
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("x", 100), (1, 2));
    }

    #[test]
    fn a_quote_is_the_first_line_cut_at_a_character_boundary() {
        assert_eq!(first_line("x = 1\ny = 2", 0, 11), "x = 1");
        assert_eq!(first_line("abc", 2, 99), "");
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(100);
        let cut = shorten(&long);
        assert_eq!(cut, format!("{}…", "é".repeat(60)));
        assert_eq!(shorten(&"a".repeat(121)), format!("{}…", "a".repeat(120)));
    }

    #[test]
    fn the_index_and_the_cursor_agree_with_line_col_at_every_offset() {
        let text = "ab\ncé d\n\nx\u{202e}y\n";
        let index = LineIndex::new(text);
        let mut cursor = Cursor::new(text);
        for offset in 0..=text.len() + 2 {
            let expected = line_col(text, offset);
            assert_eq!(index.locate(text, offset), expected, "{offset}");
            assert_eq!(cursor.advance_to(offset), expected, "{offset}");
        }
        assert_eq!(
            cursor.advance_to(1),
            (1, 2),
            "an earlier offset starts again"
        );
    }
}
