//! What socket peers hold, per peer uid: open connections and bytes of unfinished lines
//! (`server.max_connections_per_uid`, `server.max_buffered_bytes_per_uid`); and refused peers,
//! counted per uid and window so that a peer connecting in a loop writes a few audit records,
//! not one per attempt (`server.refused_audit_window_seconds`). Pure bookkeeping; the server
//! takes the decisions' consequences.

use std::collections::HashMap;

use serde_json::{Value, json};

/// Connections and unfinished-line bytes of each peer uid with a connection open.
#[derive(Debug, Default)]
pub struct Peers {
    usage: HashMap<u32, Usage>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Usage {
    connections: usize,
    buffered: usize,
}

impl Peers {
    /// Count a new connection of `uid`; `false` (nothing counted) if it already has `max`.
    pub fn connect(&mut self, uid: u32, max: usize) -> bool {
        let usage = self.usage.entry(uid).or_default();
        if usage.connections >= max {
            if usage.connections == 0 {
                self.usage.remove(&uid);
            }
            return false;
        }
        usage.connections += 1;
        true
    }

    /// A connection of `uid` that held `buffered` bytes closed.
    pub fn disconnect(&mut self, uid: u32, buffered: usize) {
        if let Some(usage) = self.usage.get_mut(&uid) {
            usage.connections = usage.connections.saturating_sub(1);
            usage.buffered = usage.buffered.saturating_sub(buffered);
            if usage.connections == 0 {
                self.usage.remove(&uid);
            }
        }
    }

    /// One connection of `uid` now holds `now` bytes of an unfinished line instead of `before`.
    /// `Err(total)` if that takes the uid's connections over `max` in all (nothing changes).
    pub fn hold(&mut self, uid: u32, before: usize, now: usize, max: usize) -> Result<(), usize> {
        let usage = self.usage.entry(uid).or_default();
        let total = usage.buffered - before.min(usage.buffered) + now;
        if now > before && total > max {
            return Err(total);
        }
        usage.buffered = total;
        Ok(())
    }

    #[cfg(test)]
    fn of(&self, uid: u32) -> (usize, usize) {
        self.usage
            .get(&uid)
            .map_or((0, 0), |u| (u.connections, u.buffered))
    }
}

/// Why a peer was refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// No `[[clients]]` rule matches its uid and gid.
    NoClientRule,
    /// Its credentials could not be read.
    NoCredentials,
    /// It already holds `server.max_connections_per_uid` connections.
    TooManyConnections,
}

impl Refusal {
    pub fn why(self) -> &'static str {
        match self {
            Refusal::NoClientRule => "no [[clients]] rule matches this peer",
            Refusal::NoCredentials => "no peer credentials",
            Refusal::TooManyConnections => {
                "the peer uid already holds server.max_connections_per_uid connections"
            }
        }
    }
}

/// Distinct (uid, why) windows kept open at once; refusals beyond are counted together.
const MAX_WINDOWS: usize = 4096;

/// Refused connections, per (uid, why) and window: the first of a window is recorded at once,
/// the rest are counted and recorded as one record when the window ends.
#[derive(Debug)]
pub struct Refusals {
    window_ms: u64,
    open: HashMap<(Option<u32>, Refusal), Window>,
}

#[derive(Debug)]
struct Window {
    opened_ms: u64,
    gid: Option<u32>,
    /// Refusals after the first, not yet recorded.
    counted: u64,
    last_ms: u64,
}

impl Refusals {
    pub fn new(window_seconds: u64) -> Refusals {
        Refusals {
            window_ms: window_seconds * 1000,
            open: HashMap::new(),
        }
    }

    pub fn window_seconds(&self) -> u64 {
        self.window_ms / 1000
    }

    /// Note a refusal at `now_ms`; returns the audit records (`connection_refused` details) to
    /// write now: the window's first refusal, and the count of an ended window of the same key.
    pub fn note(
        &mut self,
        uid: Option<u32>,
        gid: Option<u32>,
        why: Refusal,
        now_ms: u64,
    ) -> Vec<Value> {
        let mut records = Vec::new();
        let mut key = (uid, why);
        if !self.open.contains_key(&key) && self.open.len() >= MAX_WINDOWS {
            // Too many distinct refused uids: count the rest together rather than grow.
            key = (None, why);
        }
        if let Some(window) = self.open.get(&key)
            && now_ms.saturating_sub(window.opened_ms) >= self.window_ms
        {
            let window = self.open.remove(&key).expect("just found");
            records.extend(self.summary(key, &window));
        }
        match self.open.get_mut(&key) {
            Some(window) => {
                window.counted += 1;
                window.last_ms = now_ms;
            }
            None => {
                self.open.insert(
                    key,
                    Window {
                        opened_ms: now_ms,
                        gid,
                        counted: 0,
                        last_ms: now_ms,
                    },
                );
                records.push(json!({
                    "uid": key.0, "gid": gid, "why": why.why(), "count": 1,
                    "window_seconds": self.window_ms / 1000,
                }));
            }
        }
        records
    }

    /// Close the windows that ended by `now_ms`; returns the counts to record.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Value> {
        let window_ms = self.window_ms;
        let ended: Vec<_> = self
            .open
            .iter()
            .filter(|(_, w)| now_ms.saturating_sub(w.opened_ms) >= window_ms)
            .map(|(k, _)| *k)
            .collect();
        ended
            .into_iter()
            .filter_map(|key| {
                let window = self.open.remove(&key)?;
                self.summary(key, &window)
            })
            .collect()
    }

    /// Close every window (the supervisor stops).
    pub fn drain(&mut self) -> Vec<Value> {
        let open: Vec<_> = self.open.drain().collect();
        open.into_iter()
            .filter_map(|(key, window)| self.summary(key, &window))
            .collect()
    }

    fn summary(&self, key: (Option<u32>, Refusal), window: &Window) -> Option<Value> {
        (window.counted > 0).then(|| {
            json!({
                "uid": key.0, "gid": window.gid, "why": key.1.why(), "count": window.counted,
                "window_seconds": self.window_ms / 1000,
                "since_ms": window.opened_ms, "last_ms": window.last_ms,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_and_buffered_bytes_are_bounded_per_uid() {
        let mut peers = Peers::default();
        assert!(peers.connect(7, 2));
        assert!(peers.connect(7, 2));
        assert!(!peers.connect(7, 2), "the third connection of uid 7");
        assert!(peers.connect(8, 2), "another uid has its own budget");
        assert_eq!(peers.hold(7, 0, 60, 100), Ok(()));
        assert_eq!(
            peers.hold(7, 0, 50, 100),
            Err(110),
            "both connections together"
        );
        assert_eq!(peers.of(7), (2, 60));
        assert_eq!(
            peers.hold(7, 60, 10, 100),
            Ok(()),
            "shrinking always passes"
        );
        peers.disconnect(7, 10);
        assert_eq!(peers.of(7), (1, 0));
        peers.disconnect(7, 0);
        assert!(!peers.usage.contains_key(&7), "nothing kept for a gone uid");
    }

    #[test]
    fn refusals_are_recorded_once_per_window_with_a_count() {
        let mut refusals = Refusals::new(10);
        let why = Refusal::NoClientRule;
        let first = refusals.note(Some(5), Some(5), why, 0);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0]["count"], 1);
        for t in 1..1000 {
            assert!(refusals.note(Some(5), Some(5), why, t).is_empty());
        }
        assert!(
            refusals.expire(9_999).is_empty(),
            "the window is still open"
        );
        let ended = refusals.expire(10_000);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0]["count"], 999);
        assert_eq!(ended[0]["uid"], 5);
        // A refusal after the window: a new first record; the old count, if any, with it.
        assert_eq!(refusals.note(Some(5), Some(5), why, 20_000).len(), 1);
        refusals.note(Some(5), Some(5), why, 20_001);
        let both = refusals.note(Some(5), Some(5), why, 30_000);
        assert_eq!(both.len(), 2, "{both:?}");
        assert_eq!(both[0]["count"], 1);
        assert!(refusals.drain().is_empty(), "nothing counted since");
    }

    #[test]
    fn many_uids_share_one_window_beyond_the_cap() {
        let mut refusals = Refusals::new(60);
        let mut records = 0;
        for uid in 0..(MAX_WINDOWS as u32 + 100) {
            records += refusals
                .note(Some(uid), None, Refusal::NoClientRule, 0)
                .len();
        }
        assert_eq!(records, MAX_WINDOWS + 1);
        assert!(refusals.open.len() <= MAX_WINDOWS + 1);
    }
}
