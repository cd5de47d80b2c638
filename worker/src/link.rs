//! The supervisor–worker link: typed messages, one enum per direction, as JSON over a
//! SOCK_SEQPACKET socket. A message larger than one datagram is sent in chunks: every datagram
//! starts with a flag byte, 1 when more chunks follow, 0 on the last.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Instant;

use pyward_policy::config::HostCall;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::runtime::{CallOutcome, Loaded, PyError, Target};
use crate::sandbox::{SandboxError, SandboxReport};
use crate::sys;

/// Payload bytes per datagram (well under the default socket buffer).
const CHUNK: usize = 32 * 1024;
/// Largest message either side accepts.
pub const MAX_MESSAGE: usize = 32 << 20;

/// Supervisor to worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    Load {
        name: String,
        source: String,
        host_calls: BTreeSet<HostCall>,
    },
    /// `args` and `event` are JSON text, passed through untouched.
    Call {
        target: Target,
        args: String,
        event: String,
    },
    HostResult {
        id: u64,
        ok: Option<String>,
        error: Option<String>,
    },
}

/// Worker to supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    Ready { sandbox: SandboxReport },
    SandboxFailed { error: SandboxError },
    Loaded { loaded: Loaded },
    LoadFailed { error: PyError },
    HostCall { id: u64, name: String, args: String },
    Done { outcome: CallOutcome },
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
