//! The lines waiting to be written to one client, bounded in bytes
//! (`server.max_queued_bytes_per_connection`). A client that does not read its answers fills
//! the queue; then whoever queues the next line waits for room (the connection's reader among
//! them, so the supervisor stops reading that client's requests: backpressure), and host calls,
//! which cannot wait, fail at once. A line longer than the whole budget takes all of it.
//! A client that takes longer than `server.write_timeout_seconds` to take one line is closed.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc};

/// A line with its newline, and the bytes of room it holds.
type Queued = (String, u32);

/// The sending side, shared by everything that answers one connection.
#[derive(Debug)]
pub struct Outbox {
    lines: mpsc::UnboundedSender<Option<Queued>>,
    /// Free bytes of the budget.
    room: Arc<Semaphore>,
    budget: u32,
}

/// The writing side: owns the socket's write half (see [`Writer::run`]).
#[derive(Debug)]
pub struct Writer {
    lines: mpsc::UnboundedReceiver<Option<Queued>>,
    room: Arc<Semaphore>,
}

pub fn new(budget: usize) -> (Outbox, Writer) {
    let budget = u32::try_from(budget).unwrap_or(u32::MAX).max(1);
    let room = Arc::new(Semaphore::new(budget as usize));
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Outbox {
            lines: tx,
            room: room.clone(),
            budget,
        },
        Writer { lines: rx, room },
    )
}

impl Outbox {
    fn cost(&self, line: &str) -> u32 {
        u32::try_from(line.len() + 1)
            .unwrap_or(u32::MAX)
            .min(self.budget)
    }

    /// Queue a line, waiting while the client has not read enough of what was queued before.
    /// `false` if the connection is gone.
    pub async fn send(&self, mut line: String) -> bool {
        let cost = self.cost(&line);
        match self.room.acquire_many(cost).await {
            Ok(permit) => permit.forget(),
            Err(_) => return false,
        }
        line.push('\n');
        self.lines.send(Some((line, cost))).is_ok()
    }

    /// Queue a line only if there is room now. `Err(true)`: no room; `Err(false)`: the
    /// connection is gone.
    pub fn try_send(&self, mut line: String) -> Result<(), bool> {
        let cost = self.cost(&line);
        match self.room.try_acquire_many(cost) {
            Ok(permit) => permit.forget(),
            Err(tokio::sync::TryAcquireError::NoPermits) => return Err(true),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(false),
        }
        line.push('\n');
        self.lines.send(Some((line, cost))).map_err(|_| false)
    }

    /// Wait until some of the budget is free: the client has read enough of what was queued.
    /// `false` if the connection is gone.
    pub async fn wait_for_room(&self) -> bool {
        self.room.acquire().await.is_ok()
    }

    /// Write what is queued, then close the connection's write side; nothing is queued after.
    pub fn close(&self) {
        let _ = self.lines.send(None);
    }

    /// Bytes queued and not written yet.
    pub fn queued(&self) -> usize {
        (self.budget as usize).saturating_sub(self.room.available_permits())
    }
}

/// Why the writer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every sender is gone, or one asked to close.
    Done,
    /// The client closed, or a write failed.
    Failed,
    /// The client took longer than the timeout to take one line.
    Stalled,
}

impl Writer {
    /// Write lines as they come until every [`Outbox`] is gone, one asked to close, a write
    /// fails, or one line takes longer than `timeout`. Then nothing more can be queued: waiting
    /// senders are told the connection is gone.
    pub async fn run(mut self, mut socket: impl AsyncWrite + Unpin, timeout: Duration) -> Ended {
        let ended = loop {
            let Some(Some((line, cost))) = self.lines.recv().await else {
                break Ended::Done;
            };
            let written = tokio::time::timeout(timeout, socket.write_all(line.as_bytes())).await;
            drop(line);
            self.room.add_permits(cost as usize);
            match written {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break Ended::Failed,
                Err(_) => break Ended::Stalled,
            }
        };
        self.room.close();
        if ended != Ended::Stalled {
            let _ = tokio::time::timeout(timeout, socket.shutdown()).await;
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn a_client_that_does_not_read_fills_the_budget_then_frees_it_by_reading() {
        let (outbox, writer) = new(64);
        // A pipe with a small buffer: the writer blocks once it is full and nobody reads.
        let (ours, mut theirs) = tokio::io::duplex(16);
        let writing = tokio::spawn(writer.run(ours, Duration::from_secs(10)));
        assert!(outbox.try_send("a".repeat(39)).is_ok());
        assert_eq!(outbox.try_send("b".repeat(39)), Err(true), "no room left");
        assert!(outbox.queued() >= 40 - 16, "{}", outbox.queued());
        // The client reads: room again.
        let mut got = vec![0u8; 40];
        theirs.read_exact(&mut got).await.unwrap();
        assert!(outbox.send("c".repeat(39)).await);
        let mut got = vec![0u8; 40];
        theirs.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..3], b"ccc");
        // A line longer than the whole budget takes all of it, and still goes out.
        assert!(outbox.send("d".repeat(100)).await);
        let mut got = vec![0u8; 101];
        theirs.read_exact(&mut got).await.unwrap();
        assert_eq!(got[100], b'\n');
        outbox.close();
        assert_eq!(writing.await.unwrap(), Ended::Done);
        assert_eq!(outbox.try_send("e".into()), Err(false), "closed");
        assert!(!outbox.send("e".into()).await);
    }

    #[tokio::test]
    async fn a_client_that_takes_nothing_is_given_up_on() {
        let (outbox, writer) = new(1 << 20);
        let (ours, _theirs) = tokio::io::duplex(16);
        let writing = tokio::spawn(writer.run(ours, Duration::from_millis(50)));
        assert!(outbox.send("x".repeat(100)).await);
        assert_eq!(writing.await.unwrap(), Ended::Stalled);
        assert!(!outbox.send("y".into()).await, "nothing is queued after");
    }
}
