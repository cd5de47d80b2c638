//! The supervisor–worker link: typed messages, one enum per direction, as JSON over a
//! SOCK_SEQPACKET socket. A message larger than one datagram is sent in chunks: every datagram
//! starts with a flag byte, 1 when more chunks follow, 0 on the last.
//!
//! Arguments, events, results and host-call answers are JSON inside the message ([`Json`]), never
//! JSON text inside a JSON string; a message that does not parse is an error, never a default.
//! The messages are adjacently tagged (`{"type": ..., "body": {...}}`): serde reads an
//! adjacently tagged body straight from the input once it has the tag, which [`Json`]'s raw
//! value needs (an internally tagged enum buffers its fields first, and a raw value cannot be
//! read back from that buffer).

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Instant;

use pyward_policy::config::HostCall;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::runtime::{CallOutcome, Loaded, PyError, Target};
use crate::sandbox::{SandboxError, SandboxReport};
use crate::sys;

/// Payload bytes per datagram (well under the default socket buffer).
const CHUNK: usize = 32 * 1024;
/// Largest message either side accepts.
pub const MAX_MESSAGE: usize = 32 << 20;

/// Supervisor to worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
pub enum ToWorker {
    Load {
        name: String,
        source: String,
        host_calls: BTreeSet<HostCall>,
    },
    /// `args` and `event` are passed to the module untouched.
    Call {
        target: Target,
        args: Json,
        event: Json,
    },
    /// The answer to the worker's host call `id`.
    HostResult {
        id: u64,
        result: Result<Json, HostCallError>,
    },
}

/// Worker to supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
pub enum FromWorker {
    Ready { sandbox: SandboxReport },
    SandboxFailed { error: SandboxError },
    Loaded { loaded: Loaded },
    LoadFailed { error: PyError },
    HostCall { id: u64, call: HostCall, args: Json },
    Done { outcome: CallOutcome },
}

/// A JSON value carried as its text: checked to be JSON when it is made or read off the link,
/// then passed on untouched (no parse into a tree and no re-serialising on the way).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Json(Box<RawValue>);

impl Json {
    /// `text` if it is JSON; the parser's complaint if not.
    pub fn from_text(text: String) -> Result<Json, serde_json::Error> {
        RawValue::from_string(text).map(Json)
    }

    pub fn from_value(value: &serde_json::Value) -> Json {
        Json(serde_json::value::to_raw_value(value).expect("a JSON value always serialises"))
    }

    pub fn null() -> Json {
        Json::from_value(&serde_json::Value::Null)
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl std::str::FromStr for Json {
    type Err = serde_json::Error;

    fn from_str(text: &str) -> Result<Json, serde_json::Error> {
        Json::from_text(text.to_string())
    }
}

/// Equal when the texts are: the same value written differently (`[1,2]`, `[1, 2]`) is not.
impl PartialEq for Json {
    fn eq(&self, other: &Json) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Json {}

impl std::fmt::Debug for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

/// Why a host call got no answer. Each kind is its own exception in the module (see
/// `runtime::host_call`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostCallError {
    /// Not granted, or refused by a budget that stops the call: `pyward.SandboxViolation`.
    #[error("{reason}")]
    Denied { reason: String },
    /// A budget refused this one host call and nothing changed (storage full, a file too
    /// large): `pyward.BudgetExceeded`, which the module may catch.
    #[error("{message}")]
    OverBudget { message: String },
    /// The arguments make no sense (a time already passed): `ValueError`.
    #[error("{message}")]
    Invalid { message: String },
    /// The host, the broker or the link failed (no answer in time, the bot's own error, the
    /// network): `RuntimeError`, or `pyward.http.Error` for HTTP.
    #[error("{message}")]
    Failed { message: String },
}

impl HostCallError {
    pub fn denied(reason: impl Into<String>) -> HostCallError {
        HostCallError::Denied {
            reason: reason.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> HostCallError {
        HostCallError::Failed {
            message: message.into(),
        }
    }
}

/// Why a receive gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    #[error("the other side closed the link")]
    Closed,
    #[error("no message before the deadline")]
    Timeout,
    #[error("malformed message: {0}")]
    Invalid(String),
    #[error("link I/O: {0}")]
    Io(#[from] io::Error),
}

pub fn send<T: Serialize>(fd: BorrowedFd<'_>, message: &T) -> io::Result<()> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    if body.len() > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("message of {} bytes is over the link's limit", body.len()),
        ));
    }
    let mut chunks = body.chunks(CHUNK).peekable();
    let mut datagram = Vec::with_capacity(CHUNK + 1);
    if body.is_empty() {
        return sys::send_packet(fd, &[0], None);
    }
    while let Some(chunk) = chunks.next() {
        datagram.clear();
        datagram.push(u8::from(chunks.peek().is_some()));
        datagram.extend_from_slice(chunk);
        sys::send_packet(fd, &datagram, None)?;
    }
    Ok(())
}

/// Receive one message, waiting until `deadline` (forever if `None`).
pub fn recv<T: DeserializeOwned>(
    fd: BorrowedFd<'_>,
    deadline: Option<Instant>,
) -> Result<T, RecvError> {
    let mut body = Vec::new();
    let mut buf = vec![0u8; CHUNK + 1];
    loop {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
            if !sys::poll_readable(&[fd], ms)?[0] {
                return Err(RecvError::Timeout);
            }
        }
        let (n, _) = sys::recv_packet(fd, &mut buf)?;
        if n == 0 {
            return Err(RecvError::Closed);
        }
        body.extend_from_slice(&buf[1..n]);
        if body.len() > MAX_MESSAGE {
            return Err(RecvError::Invalid("message over the link's limit".into()));
        }
        if buf[0] == 0 {
            break;
        }
    }
    serde_json::from_slice(&body).map_err(|e| RecvError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;
    use crate::runtime::{CommandInfo, PeriodicInfo, Returned};

    fn json(text: &str) -> Json {
        text.parse().expect("test JSON")
    }

    fn round_trip<T: Serialize + DeserializeOwned>(message: &T) -> T {
        let bytes = serde_json::to_vec(message).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// Arguments with nesting, escapes and the bot's own spacing and key order.
    const NESTED: &str =
        r#"{"z": [1, {"b": "x\"y\u00e9"}], "a": {"deep": [[[[null]]]]}, "n": 1.50}"#;

    #[test]
    fn every_message_to_the_worker_round_trips() {
        let errors = [
            HostCallError::denied("not granted"),
            HostCallError::OverBudget {
                message: "storage full".into(),
            },
            HostCallError::Invalid {
                message: "a time already passed".into(),
            },
            HostCallError::failed("the host disconnected"),
        ];
        let messages = [
            ToWorker::Load {
                name: "m".into(),
                source: "x = 1\n".into(),
                host_calls: BTreeSet::from([HostCall::Reply, HostCall::KvGet]),
            },
            ToWorker::Call {
                target: Target::Command("ping".into()),
                args: json(NESTED),
                event: json(r#"{"sender": "@a"}"#),
            },
            ToWorker::HostResult {
                id: 7,
                result: Ok(json(NESTED)),
            },
        ]
        .into_iter()
        .chain(errors.into_iter().map(|error| ToWorker::HostResult {
            id: 8,
            result: Err(error),
        }));
        for message in messages {
            assert_eq!(round_trip(&message), message);
        }
    }

    #[test]
    fn every_message_from_the_worker_round_trips() {
        let error = PyError {
            kind: "ValueError".into(),
            message: "no".into(),
            traceback: "line 1".into(),
        };
        let outcome = |result| CallOutcome {
            result,
            error: None,
            stdout: "printed\n".into(),
            output_limit_hit: false,
            violation: None,
        };
        let messages = [
            FromWorker::Ready {
                sandbox: SandboxReport::default(),
            },
            FromWorker::SandboxFailed {
                error: SandboxError {
                    layer: crate::sandbox::Stage::Landlock,
                    message: "not supported".into(),
                },
            },
            FromWorker::Loaded {
                loaded: Loaded {
                    commands: vec![CommandInfo {
                        name: "ping".into(),
                        security: Some(pyward_policy::config::Security::Everyone),
                        help: "pong".into(),
                    }],
                    stdout: String::new(),
                    identifiers: vec!["x".into()],
                    events: vec!["message".into()],
                    periodic: vec![PeriodicInfo {
                        name: "tick".into(),
                        seconds: 60,
                    }],
                },
            },
            FromWorker::LoadFailed {
                error: error.clone(),
            },
            FromWorker::HostCall {
                id: 1,
                call: HostCall::HttpRequest,
                args: json(NESTED),
            },
            FromWorker::Done {
                outcome: outcome(Some(Returned::Json(json(NESTED)))),
            },
            FromWorker::Done {
                outcome: outcome(Some(Returned::from_text("NaN".into()))),
            },
            FromWorker::Done {
                outcome: CallOutcome {
                    error: Some(error),
                    ..outcome(None)
                },
            },
        ];
        for message in messages {
            assert_eq!(round_trip(&message), message);
        }
    }

    #[test]
    fn json_payloads_cross_as_json_and_arrive_untouched() {
        let message = ToWorker::Call {
            target: Target::Function("f".into()),
            args: json(NESTED),
            event: Json::null(),
        };
        let text = serde_json::to_string(&message).unwrap();
        // Inside the message, not a string holding JSON text.
        let tree: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(tree["type"], "call");
        assert_eq!(tree["body"]["args"]["z"][1]["b"], "x\"y\u{e9}");
        assert!(tree["body"]["event"].is_null());
        let (a, b) = sys::seqpacket_pair().unwrap();
        send(a.as_fd(), &message).unwrap();
        match recv::<ToWorker>(b.as_fd(), None).unwrap() {
            // Byte for byte: spacing, key order, escapes and number spelling kept.
            ToWorker::Call { args, .. } => assert_eq!(args.get(), NESTED),
            other => panic!("{other:?}"),
        }
        // Nesting deeper than a parse into a tree allows (128) still crosses: the supervisor
        // judges a result, and says why it cannot pass it on.
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        let done = FromWorker::Done {
            outcome: CallOutcome {
                result: Some(Returned::from_text(deep.clone())),
                error: None,
                stdout: String::new(),
                output_limit_hit: false,
                violation: None,
            },
        };
        match round_trip(&done) {
            FromWorker::Done { outcome } => assert_eq!(outcome.result_json(), Some(&*deep)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_malformed_message_is_an_error_never_a_default() {
        assert!("NaN".parse::<Json>().is_err());
        assert!("[1,".parse::<Json>().is_err());
        assert!("".parse::<Json>().is_err());
        let malformed = [
            // Arguments that are not JSON.
            r#"{"type":"call","body":{"target":{"kind":"function","name":"f"},"args":[1,,"event":null}}"#,
            // A host call pyward does not have.
            r#"{"type":"host_call","body":{"id":1,"call":"shell","args":{}}}"#,
            // An answer that says nothing.
            r#"{"type":"host_result","body":{"id":1}}"#,
            r#"{"type":"host_result","body":{"id":1,"result":{"Err":{"kind":"maybe","message":"x"}}}}"#,
            // A message of neither direction, and not JSON at all.
            r#"{"type":"shutdown","body":{}}"#,
            "call f",
        ];
        for text in malformed {
            let to = serde_json::from_str::<ToWorker>(text);
            let from = serde_json::from_str::<FromWorker>(text);
            assert!(to.is_err() && from.is_err(), "{text}: {to:?} {from:?}");
        }
        let (a, b) = sys::seqpacket_pair().unwrap();
        sys::send_packet(
            a.as_fd(),
            &[&[0u8][..], malformed[0].as_bytes()].concat(),
            None,
        )
        .unwrap();
        assert!(matches!(
            recv::<ToWorker>(b.as_fd(), None),
            Err(RecvError::Invalid(_))
        ));
    }

    #[test]
    fn large_messages_cross_in_chunks() {
        let (a, b) = sys::seqpacket_pair().unwrap();
        let source = "x = 1\n".repeat(50_000);
        let message = ToWorker::Load {
            name: "big".into(),
            source: source.clone(),
            host_calls: BTreeSet::from([HostCall::Reply]),
        };
        let sender = std::thread::spawn(move || send(a.as_fd(), &message).unwrap());
        let got: ToWorker = recv(b.as_fd(), None).unwrap();
        sender.join().unwrap();
        match got {
            ToWorker::Load { source: s, .. } => assert_eq!(s, source),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn closed_and_timeout_are_told_apart() {
        let (a, b) = sys::seqpacket_pair().unwrap();
        let deadline = Instant::now() + std::time::Duration::from_millis(20);
        assert!(matches!(
            recv::<ToWorker>(b.as_fd(), Some(deadline)),
            Err(RecvError::Timeout)
        ));
        drop(a);
        assert!(matches!(
            recv::<ToWorker>(b.as_fd(), None),
            Err(RecvError::Closed)
        ));
    }
}
