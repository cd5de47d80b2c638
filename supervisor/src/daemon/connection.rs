//! One client connection: every line is one JSON-RPC 2.0 object; each request runs in its own
//! task, so a slow call never blocks the connection (or others). While a module call runs, the
//! supervisor may send the calling connection `host.call` requests, whose answers are matched
//! here to the waiting host call.
//!
//! Budgets (docs/policy.md): what one peer can make the server hold is bounded per uid
//! (connections, unfinished lines: `peers`) and per connection (answers it has not read:
//! `outbox`; requests in flight).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyward_policy::config::Role;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::net::unix::OwnedReadHalf;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::budget;
use super::dispatch::dispatch;
use super::error::DaemonError;
use super::lines::{Line, LineCodec};
use super::outbox::{self, Outbox};
use super::rpc::{self, RpcError};
use super::state::{State, lock};

/// Bytes read from a client at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Per-connection: the writer's queue, the host calls waiting for an answer, and what the
/// connection has in flight.
pub(super) struct Conn {
    pub(super) uid: u32,
    pub(super) out: Outbox,
    pub(super) pending: Mutex<HashMap<String, std::sync::mpsc::Sender<Result<Value, String>>>>,
    pub(super) next_id: AtomicU64,
    /// The client has gone (or was closed): host calls fail at once.
    pub(super) closed: AtomicBool,
    pub(super) max_line: usize,
    /// Requests being worked on (`server.max_requests_in_flight`).
    pub(super) in_flight: AtomicUsize,
    /// One-shot workers running for this connection (`budgets.max_one_shot_per_connection`).
    pub(super) one_shots: AtomicUsize,
}

impl Conn {
    /// The answer line for a request; one that would be longer than `server.max_line_bytes`
    /// becomes an error that says so (the supervisor never sends a longer line).
    fn answer_line(&self, id: &Value, result: Result<Value, RpcError>) -> String {
        let line = rpc::response(id, result);
        if line.len() <= self.max_line {
            return line;
        }
        let error = budget::line_too_long(line.len(), self.max_line);
        let line = rpc::response(id, Err(error.clone()));
        if line.len() <= self.max_line {
            line
        } else {
            // Only an id of nearly a line's length gets here.
            rpc::response(&Value::Null, Err(error))
        }
    }

    /// The client is gone: nobody will answer its host calls.
    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        // Dropping the senders wakes every waiting host call.
        lock(&self.pending).clear();
    }
}

/// A connection's claim on its peer uid's budgets; given back when the connection ends.
pub(super) struct PeerSlot {
    state: Arc<State>,
    uid: u32,
    /// Bytes of an unfinished line this connection holds.
    held: usize,
}

impl PeerSlot {
    pub(super) fn take(state: &Arc<State>, uid: u32, max_connections: usize) -> Option<PeerSlot> {
        lock(&state.peers)
            .connect(uid, max_connections)
            .then(|| PeerSlot {
                state: state.clone(),
                uid,
                held: 0,
            })
    }

    /// This connection now holds `now` bytes of an unfinished line; `Err(total)` if that
    /// takes its uid over `server.max_buffered_bytes_per_uid`.
    fn hold(&mut self, now: usize, max: usize) -> Result<(), usize> {
        if now == self.held {
            return Ok(());
        }
        lock(&self.state.peers).hold(self.uid, self.held, now, max)?;
        self.held = now;
        Ok(())
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        lock(&self.state.peers).disconnect(self.uid, self.held);
    }
}

/// A request counted against `server.max_requests_in_flight` until it is answered.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn take(conn: &Arc<Conn>, max: usize) -> Option<InFlight> {
        conn.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlight(conn.clone()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(super) async fn connection(
    state: Arc<State>,
    stream: UnixStream,
    role: Role,
    mut slot: PeerSlot,
) {
    let policy = state.policy();
    let server = &policy.server;
    let (reader, writer) = stream.into_split();
    let (out, writing) = outbox::new(server.max_queued_bytes_per_connection);
    let timeout = Duration::from_secs(server.write_timeout_seconds);
    let mut writing = tokio::spawn(writing.run(writer, timeout));
    let conn = Arc::new(Conn {
        uid: slot.uid,
        out,
        pending: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        closed: AtomicBool::new(false),
        max_line: server.max_line_bytes,
        in_flight: AtomicUsize::new(0),
        one_shots: AtomicUsize::new(0),
    });
    let reading = read_requests(&state, &conn, role, reader, &mut slot, server);
    let ended = tokio::select! {
        read = reading => match read {
            Ok(()) => None,
            Err(closing) => {
                // Over a budget that only closing frees: say why, to the client and the log.
                let closing = RpcError::from(closing);
                closed_log(conn.uid, &closing.message, &closing.data["budget"]);
                let _ = conn.out.try_send(rpc::response(&Value::Null, Err(closing)));
                conn.out.close();
                None
            }
        },
        // The writer gave up (the client stopped reading, or went away): stop reading too.
        ended = &mut writing => ended.ok(),
    };
    if ended == Some(outbox::Ended::Stalled) {
        let why = format!(
            "the client took more than {} s to read one line (server.write_timeout_seconds)",
            server.write_timeout_seconds
        );
        closed_log(conn.uid, &why, &json!("server.write_timeout_seconds"));
    }
    // The client stopped sending (or was closed): answers still in flight are written if it
    // reads them; host calls it can no longer answer fail now.
    conn.close();
}

/// A connection the supervisor closed, as one log line.
fn closed_log(uid: u32, why: &str, budget: &Value) {
    eprintln!(
        "{}",
        json!({ "event": "connection_closed", "uid": uid, "why": why, "budget": budget })
    );
}

/// Read lines and act on them until the client closes. `Err`: the connection must be closed
/// for going over a budget (the error says which).
async fn read_requests(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    role: Role,
    mut reader: OwnedReadHalf,
    slot: &mut PeerSlot,
    server: &pyward_policy::config::ServerConfig,
) -> Result<(), DaemonError> {
    let max = server.max_line_bytes;
    let mut codec = LineCodec::new(max);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        while let Some(line) = codec.decode(&mut buf).unwrap_or(None) {
            let line = match line {
                Line::Text(line) => line,
                Line::TooLong => {
                    let e = DaemonError::LineTooLong { max }.into();
                    conn.out.send(rpc::response(&Value::Null, Err(e))).await;
                    continue;
                }
                Line::NotUtf8 => {
                    let e = DaemonError::NotUtf8.into();
                    conn.out.send(rpc::response(&Value::Null, Err(e))).await;
                    continue;
                }
            };
            handle_line(state, conn, role, line, server.max_requests_in_flight).await;
        }
        // What is left is an unfinished line: it counts against the peer's budget.
        let budget = server.max_buffered_bytes_per_uid;
        if let Err(total) = slot.hold(buf.len(), budget) {
            return Err(DaemonError::UnfinishedLines {
                uid: conn.uid,
                total,
                max: budget,
            });
        }
        if buf.is_empty() && buf.capacity() > 4 * READ_CHUNK {
            // After a long line: give the memory back.
            buf = BytesMut::with_capacity(READ_CHUNK);
        }
        buf.reserve(READ_CHUNK);
        match reader.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

async fn handle_line(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    role: Role,
    line: String,
    max_in_flight: usize,
) {
    match rpc::parse(&line) {
        rpc::Parsed::Blank => {}
        rpc::Parsed::Invalid(reply) => {
            conn.out.send(reply).await;
        }
        rpc::Parsed::Answer { key, answer } => {
            if let Some(waiter) = lock(&conn.pending).remove(&key) {
                let _ = waiter.send(answer);
            }
        }
        rpc::Parsed::Call { id, method, params } => {
            // A client that does not read its answers gets no new work done: with its queue
            // full, this waits, and so does the reading of its next requests (backpressure).
            if !conn.out.wait_for_room().await {
                return;
            }
            let Some(in_flight) = InFlight::take(conn, max_in_flight) else {
                // Refused rather than queued: this reader must go on reading the answers to
                // the host calls of the requests in flight.
                if let Some(id) = id {
                    let e = DaemonError::TooManyInFlight { max: max_in_flight }.into();
                    conn.out.send(conn.answer_line(&id, Err(e))).await;
                }
                return;
            };
            drop(line);
            let state = state.clone();
            let conn = conn.clone();
            tokio::spawn(async move {
                let result = dispatch(&state, &conn, role, &method, params).await;
                if let Some(id) = id {
                    let line = conn.answer_line(&id, result);
                    conn.out.send(line).await;
                }
                drop(in_flight);
            });
        }
    }
}
