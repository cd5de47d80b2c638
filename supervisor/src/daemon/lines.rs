//! One JSON-RPC object per line, with a length limit that never ends the connection: a line over
//! the limit is skipped up to its newline and reported as an item, so the server can answer
//! with an error and go on reading. (The server writes through `outbox`, one line at a time.)

use tokio_util::bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    TooLong,
    NotUtf8,
}

#[derive(Debug)]
pub struct LineCodec {
    max: usize,
    /// Skipping the rest of an over-long line.
    discarding: bool,
    /// Where to resume looking for a newline.
    scanned: usize,
}

impl LineCodec {
    pub fn new(max: usize) -> LineCodec {
        LineCodec {
            max,
            discarding: false,
            scanned: 0,
        }
    }
}

impl Decoder for LineCodec {
    type Item = Line;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Line>, std::io::Error> {
        let newline = buf[self.scanned..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + self.scanned);
        match newline {
            Some(end) => {
                self.scanned = 0;
                if self.discarding || end > self.max {
                    self.discarding = false;
                    buf.advance(end + 1);
                    return Ok(Some(Line::TooLong));
                }
                let line = buf.split_to(end + 1);
                let text = &line[..end];
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                Ok(Some(match std::str::from_utf8(text) {
                    Ok(s) => Line::Text(s.to_string()),
                    Err(_) => Line::NotUtf8,
                }))
            }
            None if buf.len() > self.max => {
                // Drop what we have; keep dropping until the newline, then report once.
                self.discarding = true;
                buf.clear();
                self.scanned = 0;
                Ok(None)
            }
            None => {
                self.scanned = buf.len();
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut LineCodec, chunks: &[&[u8]]) -> Vec<Line> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(line) = codec.decode(&mut buf).unwrap() {
                out.push(line);
            }
        }
        out
    }

    #[test]
    fn long_lines_are_reported_and_skipped() {
        let mut codec = LineCodec::new(8);
        let got = decode_all(
            &mut codec,
            &[b"short\nthis line is far too long", b" still going\nok\n"],
        );
        assert_eq!(
            got,
            [
                Line::Text("short".into()),
                Line::TooLong,
                Line::Text("ok".into())
            ]
        );
    }

    #[test]
    fn crlf_and_bad_utf8() {
        let mut codec = LineCodec::new(64);
        let got = decode_all(&mut codec, &[b"a\r\n\xff\xfe\n"]);
        assert_eq!(got, [Line::Text("a".into()), Line::NotUtf8]);
    }
}
