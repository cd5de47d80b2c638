//! Bytes a client may send on the socket, cut into arbitrary reads, through the server's line
//! framing (`daemon::lines`) and line parser (`daemon::rpc`), linked from the supervisor library
//! the server is built from. Checks: no panic; framing does not depend on how the bytes were
//! split; every error reply is a JSON-RPC 2.0 error object with a code and a reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyward::daemon::{lines, rpc};
use serde_json::Value;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

/// A small limit, so over-long lines are reached often.
const MAX_LINE: usize = 200;

fn frame(chunks: &[&[u8]]) -> Vec<lines::Line> {
    let mut codec = lines::LineCodec::new(MAX_LINE);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(line) = codec.decode(&mut buf).expect("decoding never fails") {
            out.push(line);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut % 31) + 1;
    let chunked: Vec<&[u8]> = data.chunks(step).collect();
    let lines = frame(&chunked);
    assert_eq!(lines, frame(&[data]), "framing depends on read boundaries");
    for line in lines {
        let lines::Line::Text(text) = line else {
            continue;
        };
        assert!(
            text.len() <= MAX_LINE,
            "a line over the limit was passed on"
        );
        if let rpc::Parsed::Invalid(reply) = rpc::parse(&text) {
            let reply: Value = serde_json::from_str(&reply).expect("replies are JSON");
            assert_eq!(reply["jsonrpc"], "2.0");
            assert!(reply["error"]["code"].is_i64(), "{reply}");
            assert!(reply["error"]["data"]["reason"].is_string(), "{reply}");
        }
    }
});
