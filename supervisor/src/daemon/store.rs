//! The supervisor's state on disk: an SQLite database (WAL) in the state directory. Loaded
//! modules (source, hash, scan report, tier), grants, health and quarantine, and the audit log.
//!
//! Durability: every change a client is told about (a load, a grant, a failure, a quarantine, an
//! audit record) is committed before the answer is sent, with `synchronous = FULL`. Health
//! scores after successes change on every call and are written in batches (at most a few
//! seconds behind); counts of consecutive failures and quarantine are never behind. A change and
//! its audit record are one transaction ([`Store::audited`]): if the disk is full, the change is
//! refused with its record, never acknowledged without it.

use std::path::Path;

use pyward_policy::acl::{Grant, GrantTarget};
use rusqlite::{Connection, params};
use serde_json::Value;

use pyward_policy::manifest::Capabilities;
use rusqlite::OptionalExtension;

use super::quarantine::Health;

/// A module as stored.
#[derive(Debug, Clone)]
pub struct StoredModule {
    pub name: String,
    pub tier: String,
    pub source: String,
    pub health: Health,
}

#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS modules (
    name TEXT PRIMARY KEY,
    tier TEXT NOT NULL,
    source TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    scan_report TEXT NOT NULL,
    loaded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS health (
    module TEXT PRIMARY KEY,
    score REAL NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    last_violation TEXT
);
CREATE TABLE IF NOT EXISTS grants (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    module TEXT NOT NULL,
    command TEXT,
    expires_at_ms INTEGER
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    event TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
    module TEXT PRIMARY KEY,
    capabilities TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    approved_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    module TEXT PRIMARY KEY,
    tier TEXT NOT NULL,
    source TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    requested TEXT NOT NULL,
    submitted_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    module TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (module, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS config (
    module TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    secret INTEGER NOT NULL,
    PRIMARY KEY (module, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedules (
    id INTEGER PRIMARY KEY,
    module TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    payload TEXT,
    interval_ms INTEGER,
    next_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (next_ms);
";

/// A module's approved capabilities, as stored.
#[derive(Debug, Clone)]
pub struct Approval {
    pub capabilities: Capabilities,
    pub source_sha256: String,
}

/// A module version waiting for an admin's approval.
#[derive(Debug, Clone)]
pub struct Pending {
    pub tier: String,
    pub source: String,
    pub source_sha256: String,
    pub requested: Capabilities,
}

/// Why a `kv_set` was refused (nothing was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvRefusal {
    /// The module would hold more than this many keys.
    Keys(usize),
    /// The module's keys and values would take more than this many bytes.
    Bytes(u64),
}

/// A schedule that came due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub module: String,
    /// A periodic handler (`@pyward.every`): `false` is a one-off (`schedule_at`).
    pub periodic: bool,
    pub name: String,
    /// JSON text of a one-off's payload.
    pub payload: String,
    /// When it was due (unix milliseconds).
    pub due_ms: u64,
}

/// A `schedules` row: id, module, kind, name, payload, interval_ms, next_ms.
type DueRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    i64,
);

/// The first slot of a periodic schedule after `now`, from a slot `next` that has passed:
/// missed runs are skipped, not made up.
fn next_slot(next: u64, interval: u64, now: u64) -> u64 {
    if next > now {
        return next;
    }
    let missed = (now - next) / interval + 1;
    next + missed * interval
}

/// Databases written before grants kept milliseconds have `grants.expires_at` in seconds:
/// rename the column and convert, in one transaction, so no grant is lost or lengthened.
fn migrate_grant_seconds(conn: &Connection) -> rusqlite::Result<()> {
    let old: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('grants') WHERE name = 'expires_at'",
        [],
        |row| row.get(0),
    )?;
    if old {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE grants RENAME COLUMN expires_at TO expires_at_ms;
             UPDATE grants SET expires_at_ms = expires_at_ms * 1000;
             COMMIT;",
        )?;
    }
    Ok(())
}

impl Store {
    /// Open (or create) `state_dir/state.db`. The directory is made private to this user.
    pub fn open(state_dir: &Path) -> anyhow::Result<Store> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(state_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create the state directory {}: {e}",
                state_dir.display()
            )
        })?;
        std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(0o700))?;
        let path = state_dir.join("state.db");
        let conn = Connection::open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        migrate_grant_seconds(&conn)?;
        Ok(Store { conn })
    }

    /// Insert or replace a module and its health. Call inside [`Store::audited`], which makes
    /// the two writes and their audit record one transaction.
    pub fn save_module(
        &self,
        name: &str,
        tier: &str,
        source: &str,
        scan_report: &Value,
        health: &Health,
        now: u64,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO modules (name, tier, source, source_sha256, scan_report, loaded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                name,
                tier,
                source,
                pyward_policy::scan::sha256_hex(source.as_bytes()),
                scan_report.to_string(),
                now as i64
            ],
        )?;
        Self::put_health(&self.conn, name, health)
    }

    /// Remove a module and its health; inside [`Store::audited`], like `save_module`.
    pub fn remove_module(&self, name: &str) -> rusqlite::Result<()> {
        self.conn
            .execute("DELETE FROM modules WHERE name = ?1", params![name])?;
        self.conn
            .execute("DELETE FROM health WHERE module = ?1", params![name])?;
        Ok(())
    }

    fn put_health(conn: &Connection, module: &str, h: &Health) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT OR REPLACE INTO health (module, score, consecutive_failures, quarantined, last_violation)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                module,
                h.score,
                h.consecutive_failures,
                h.quarantined,
                h.last_violation
            ],
        )?;
        Ok(())
    }

    pub fn save_health(&self, module: &str, health: &Health) -> rusqlite::Result<()> {
        Self::put_health(&self.conn, module, health)
    }

    /// Several modules' health in one transaction (one sync to disk, not one each).
    pub fn save_healths(&self, healths: &[(String, Health)]) -> rusqlite::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        for (module, health) in healths {
            Self::put_health(&tx, module, health)?;
        }
        tx.commit()
    }

    pub fn modules(&self) -> rusqlite::Result<Vec<StoredModule>> {
        let mut stmt = self.conn.prepare(
            "SELECT m.name, m.tier, m.source, h.score, h.consecutive_failures, h.quarantined, h.last_violation
             FROM modules m LEFT JOIN health h ON h.module = m.name ORDER BY m.name",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(StoredModule {
                name: row.get(0)?,
                tier: row.get(1)?,
                source: row.get(2)?,
                health: Health {
                    score: row.get::<_, Option<f64>>(3)?.unwrap_or(100.0),
                    consecutive_failures: row.get::<_, Option<u32>>(4)?.unwrap_or(0),
                    quarantined: row.get::<_, Option<bool>>(5)?.unwrap_or(false),
                    last_violation: row.get(6)?,
                },
            })
        })?;
        rows.collect()
    }

    pub fn add_grant(&self, grant: &Grant) -> rusqlite::Result<()> {
        let (module, command) = split(&grant.target);
        self.conn.execute(
            "INSERT INTO grants (user, module, command, expires_at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![
                grant.user,
                module,
                command,
                grant.expires_at_ms.map(|t| t as i64)
            ],
        )?;
        Ok(())
    }

    pub fn revoke(&self, grant: &Grant) -> rusqlite::Result<usize> {
        let (module, command) = split(&grant.target);
        self.conn.execute(
            "DELETE FROM grants WHERE user = ?1 AND module = ?2 AND command IS ?3",
            params![grant.user, module, command],
        )
    }

    pub fn grants(&self) -> rusqlite::Result<Vec<Grant>> {
        let mut stmt = self
            .conn
            .prepare("SELECT user, module, command, expires_at_ms FROM grants ORDER BY id")?;
        let rows = stmt.query_map([], |row| {
            let module: String = row.get(1)?;
            let command: Option<String> = row.get(2)?;
            Ok(Grant {
                user: row.get(0)?,
                target: match command {
                    Some(command) => GrantTarget::Command { module, command },
                    None => GrantTarget::Module { module },
                },
                expires_at_ms: row.get::<_, Option<i64>>(3)?.map(|t| t as u64),
            })
        })?;
        rows.collect()
    }

    /// Make `change` and append its audit record in one transaction: after a crash or a full
    /// disk, both are on disk or neither is, so a change a client was told about always has its
    /// record.
    pub fn audited<T>(
        &self,
        time: u64,
        event: &str,
        record: &Value,
        change: impl FnOnce(&Store) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let tx = self.conn.unchecked_transaction()?;
        let out = change(self)?;
        self.audit(time, event, record)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn audit(&self, time: u64, event: &str, record: &Value) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO audit (time, event, record) VALUES (?1, ?2, ?3)",
            params![time as i64, event, record.to_string()],
        )?;
        Ok(())
    }

    /// The newest `limit` audit records, oldest first.
    pub fn audit_log(&self, limit: u32) -> rusqlite::Result<Vec<Value>> {
        let mut stmt = self
            .conn
            .prepare("SELECT record FROM (SELECT id, record FROM audit ORDER BY id DESC LIMIT ?1) ORDER BY id")?;
        let rows = stmt.query_map(params![limit], |row| row.get::<_, String>(0))?;
        rows.map(|r| r.map(|s| serde_json::from_str(&s).unwrap_or(Value::Null)))
            .collect()
    }

    // --- approvals -------------------------------------------------------------------------

    pub fn approval(&self, module: &str) -> rusqlite::Result<Option<Approval>> {
        self.conn
            .query_row(
                "SELECT capabilities, source_sha256 FROM approvals WHERE module = ?1",
                params![module],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .optional()
            .map(|found| {
                found.and_then(|(caps, sha)| {
                    Some(Approval {
                        capabilities: serde_json::from_str(&caps).ok()?,
                        source_sha256: sha,
                    })
                })
            })
    }

    /// Record what an admin approved; inside [`Store::audited`].
    pub fn save_approval(
        &self,
        module: &str,
        capabilities: &Capabilities,
        source_sha256: &str,
        now: u64,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO approvals (module, capabilities, source_sha256, approved_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                module,
                serde_json::to_string(capabilities).unwrap_or_default(),
                source_sha256,
                now as i64
            ],
        )?;
        Ok(())
    }

    pub fn pending(&self, module: &str) -> rusqlite::Result<Option<Pending>> {
        self.conn
            .query_row(
                "SELECT tier, source, source_sha256, requested FROM pending WHERE module = ?1",
                params![module],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()
            .map(|found| {
                found.and_then(|(tier, source, sha, requested)| {
                    Some(Pending {
                        tier,
                        source,
                        source_sha256: sha,
                        requested: serde_json::from_str(&requested).ok()?,
                    })
                })
            })
    }

    /// Every pending version: `(module, pending)`.
    pub fn all_pending(&self) -> rusqlite::Result<Vec<(String, Pending)>> {
        let mut stmt = self.conn.prepare(
            "SELECT module, tier, source, source_sha256, requested FROM pending ORDER BY module",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (module, tier, source, sha, requested) = row?;
            if let Ok(requested) = serde_json::from_str(&requested) {
                out.push((
                    module,
                    Pending {
                        tier,
                        source,
                        source_sha256: sha,
                        requested,
                    },
                ));
            }
        }
        Ok(out)
    }

    /// Keep a version for approval (replacing an older pending one); inside [`Store::audited`].
    pub fn save_pending(&self, module: &str, pending: &Pending, now: u64) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO pending (module, tier, source, source_sha256, requested, submitted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                module,
                pending.tier,
                pending.source,
                pending.source_sha256,
                serde_json::to_string(&pending.requested).unwrap_or_default(),
                now as i64
            ],
        )?;
        Ok(())
    }

    pub fn remove_pending(&self, module: &str) -> rusqlite::Result<usize> {
        self.conn
            .execute("DELETE FROM pending WHERE module = ?1", params![module])
    }

    /// Forget everything kept for a module: storage, config, approval, pending version,
    /// schedules (`module.unload` with `purge`).
    pub fn purge(&self, module: &str) -> rusqlite::Result<()> {
        for table in ["kv", "config", "schedules"] {
            self.conn.execute(
                &format!("DELETE FROM {table} WHERE module = ?1"),
                params![module],
            )?;
        }
        self.conn
            .execute("DELETE FROM approvals WHERE module = ?1", params![module])?;
        self.remove_pending(module)?;
        Ok(())
    }

    // --- storage -------------------------------------------------------------------------

    /// The JSON text stored under (`module`, `key`).
    pub fn kv_get(&self, module: &str, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM kv WHERE module = ?1 AND key = ?2",
                params![module, key],
                |row| row.get(0),
            )
            .optional()
    }

    /// Store `value` (JSON text) under (`module`, `key`) if the module stays within `max_keys`
    /// and `max_bytes` (keys plus values). Committed (synchronous = FULL) before it returns.
    pub fn kv_set(
        &self,
        module: &str,
        key: &str,
        value: &str,
        max_keys: usize,
        max_bytes: u64,
    ) -> rusqlite::Result<Result<(), KvRefusal>> {
        let tx = self.conn.unchecked_transaction()?;
        let old: Option<i64> = tx
            .query_row(
                "SELECT length(CAST(key AS BLOB)) + length(CAST(value AS BLOB)) FROM kv
                 WHERE module = ?1 AND key = ?2",
                params![module, key],
                |row| row.get(0),
            )
            .optional()?;
        let (count, total): (i64, i64) = tx.query_row(
            "SELECT count(*), coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0)
             FROM kv WHERE module = ?1",
            params![module],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let count = count as usize + usize::from(old.is_none());
        let total = (total - old.unwrap_or(0)) as u64 + (key.len() + value.len()) as u64;
        if count > max_keys {
            return Ok(Err(KvRefusal::Keys(max_keys)));
        }
        if total > max_bytes {
            return Ok(Err(KvRefusal::Bytes(max_bytes)));
        }
        tx.execute(
            "INSERT OR REPLACE INTO kv (module, key, value) VALUES (?1, ?2, ?3)",
            params![module, key, value],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }

    pub fn kv_delete(&self, module: &str, key: &str) -> rusqlite::Result<bool> {
        self.conn
            .execute(
                "DELETE FROM kv WHERE module = ?1 AND key = ?2",
                params![module, key],
            )
            .map(|n| n > 0)
    }

    /// Keys of `module` starting with `prefix`, sorted, at most `limit`.
    pub fn kv_keys(
        &self,
        module: &str,
        prefix: &str,
        limit: usize,
    ) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT key FROM kv WHERE module = ?1 AND substr(key, 1, ?3) = ?2 ORDER BY key LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![module, prefix, prefix.chars().count() as i64, limit as i64],
            |row| row.get(0),
        )?;
        rows.collect()
    }

    /// `(keys, bytes)` a module's storage holds.
    pub fn kv_usage(&self, module: &str) -> rusqlite::Result<(u64, u64)> {
        self.conn.query_row(
            "SELECT count(*), coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0)
             FROM kv WHERE module = ?1",
            params![module],
            |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
        )
    }

    // --- config --------------------------------------------------------------------------

    /// The JSON text of a config value.
    pub fn config_get(&self, module: &str, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM config WHERE module = ?1 AND key = ?2",
                params![module, key],
                |row| row.get(0),
            )
            .optional()
    }

    /// Set (`Some`) or remove (`None`) a config value; inside [`Store::audited`].
    pub fn config_set(
        &self,
        module: &str,
        key: &str,
        value: Option<&str>,
        secret: bool,
    ) -> rusqlite::Result<()> {
        match value {
            Some(value) => self.conn.execute(
                "INSERT OR REPLACE INTO config (module, key, value, secret) VALUES (?1, ?2, ?3, ?4)",
                params![module, key, value, secret],
            )?,
            None => self.conn.execute(
                "DELETE FROM config WHERE module = ?1 AND key = ?2",
                params![module, key],
            )?,
        };
        Ok(())
    }

    /// `(key, value JSON text, secret)` of a module's config.
    pub fn config_list(&self, module: &str) -> rusqlite::Result<Vec<(String, String, bool)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value, secret FROM config WHERE module = ?1 ORDER BY key")?;
        let rows = stmt.query_map(params![module], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
        rows.collect()
    }

    // --- schedules -----------------------------------------------------------------------

    /// Add a one-off run unless the module already has `max_pending`. Returns its id.
    pub fn schedule_at(
        &self,
        module: &str,
        name: &str,
        payload: &str,
        at_ms: u64,
        max_pending: usize,
    ) -> rusqlite::Result<Option<i64>> {
        let tx = self.conn.unchecked_transaction()?;
        let pending: i64 = tx.query_row(
            "SELECT count(*) FROM schedules WHERE module = ?1 AND kind = 'at'",
            params![module],
            |row| row.get(0),
        )?;
        if pending as usize >= max_pending {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO schedules (module, kind, name, payload, interval_ms, next_ms)
             VALUES (?1, 'at', ?2, ?3, NULL, ?4)",
            params![module, name, payload, at_ms as i64],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Some(id))
    }

    /// Cancel a module's pending one-offs of `name`; how many there were.
    pub fn cancel_schedule(&self, module: &str, name: &str) -> rusqlite::Result<usize> {
        self.conn.execute(
            "DELETE FROM schedules WHERE module = ?1 AND kind = 'at' AND name = ?2",
            params![module, name],
        )
    }

    /// A module's one-offs pending: `(name, at_ms)`.
    pub fn pending_one_offs(&self, module: &str) -> rusqlite::Result<Vec<(String, u64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, next_ms FROM schedules WHERE module = ?1 AND kind = 'at' ORDER BY next_ms",
        )?;
        let rows = stmt.query_map(params![module], |row| {
            Ok((row.get(0)?, row.get::<_, i64>(1)? as u64))
        })?;
        rows.collect()
    }

    /// Make a module's periodic schedules what it declares now: `(name, interval_ms)`. A
    /// handler whose period did not change keeps its next slot; a new one runs one period
    /// from `now`.
    pub fn sync_periodic(
        &self,
        module: &str,
        declared: &[(String, u64)],
        now: u64,
    ) -> rusqlite::Result<()> {
        let existing: Vec<(i64, String, u64)> = {
            let mut stmt = self.conn.prepare(
                "SELECT id, name, interval_ms FROM schedules WHERE module = ?1 AND kind = 'every'",
            )?;
            let rows = stmt.query_map(params![module], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (id, name, interval) in &existing {
            if !declared.iter().any(|(n, i)| n == name && i == interval) {
                self.conn
                    .execute("DELETE FROM schedules WHERE id = ?1", params![id])?;
            }
        }
        for (name, interval) in declared {
            if !existing.iter().any(|(_, n, i)| n == name && i == interval) {
                self.conn.execute(
                    "INSERT INTO schedules (module, kind, name, payload, interval_ms, next_ms)
                     VALUES (?1, 'every', ?2, NULL, ?3, ?4)",
                    params![module, name, *interval as i64, (now + interval) as i64],
                )?;
            }
        }
        Ok(())
    }

    /// Remove a module's schedules (it was unloaded).
    pub fn remove_schedules(&self, module: &str) -> rusqlite::Result<()> {
        self.conn
            .execute("DELETE FROM schedules WHERE module = ?1", params![module])?;
        Ok(())
    }

    /// At start-up: periodic slots missed while the supervisor was down are skipped to the
    /// next slot (one-offs that were missed stay due, and fire once).
    pub fn skip_missed_periodic(&self, now: u64) -> rusqlite::Result<usize> {
        let missed: Vec<(i64, u64, u64)> = {
            let mut stmt = self.conn.prepare(
                "SELECT id, next_ms, interval_ms FROM schedules WHERE kind = 'every' AND next_ms <= ?1",
            )?;
            let rows = stmt.query_map(params![now as i64], |row| {
                Ok((
                    row.get(0)?,
                    row.get::<_, i64>(1)? as u64,
                    row.get::<_, i64>(2)? as u64,
                ))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let tx = self.conn.unchecked_transaction()?;
        for (id, next, interval) in &missed {
            tx.execute(
                "UPDATE schedules SET next_ms = ?2 WHERE id = ?1",
                params![id, next_slot(*next, (*interval).max(1), now) as i64],
            )?;
        }
        tx.commit()?;
        Ok(missed.len())
    }

    /// Take what is due at `now`, in one transaction: a one-off is removed (it fires at most
    /// once), a periodic one moves to its next slot.
    pub fn take_due(&self, now: u64) -> rusqlite::Result<Vec<Due>> {
        let rows: Vec<DueRow> = {
            let mut stmt = self.conn.prepare(
                "SELECT id, module, kind, name, payload, interval_ms, next_ms FROM schedules
                 WHERE next_ms <= ?1 ORDER BY next_ms LIMIT 256",
            )?;
            let rows = stmt.query_map(params![now as i64], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.conn.unchecked_transaction()?;
        let mut due = Vec::new();
        for (id, module, kind, name, payload, interval, next) in rows {
            let periodic = kind == "every";
            if periodic {
                let interval = interval.unwrap_or(60_000).max(1) as u64;
                tx.execute(
                    "UPDATE schedules SET next_ms = ?2 WHERE id = ?1",
                    params![id, next_slot(next as u64, interval, now) as i64],
                )?;
            } else {
                tx.execute("DELETE FROM schedules WHERE id = ?1", params![id])?;
            }
            due.push(Due {
                module,
                periodic,
                name,
                payload: payload.unwrap_or_else(|| "null".into()),
                due_ms: next as u64,
            });
        }
        tx.commit()?;
        Ok(due)
    }

    #[cfg(test)]
    pub fn audit_count(&self, event: &str) -> rusqlite::Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM audit WHERE event = ?1",
                params![event],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
    }
}

fn split(target: &GrantTarget) -> (&str, Option<&str>) {
    match target {
        GrantTarget::Command { module, command } => (module, Some(command)),
        GrantTarget::Module { module } => (module, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_round_trips() {
        let dir = std::env::temp_dir().join(format!("pyward-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let health = Health {
            score: 72.25,
            consecutive_failures: 3,
            quarantined: true,
            last_violation: Some("timeout".into()),
        };
        let grant = Grant {
            user: "@a".into(),
            target: GrantTarget::Command {
                module: "m".into(),
                command: "c".into(),
            },
            expires_at_ms: Some(99_000),
        };
        {
            let store = Store::open(&dir).unwrap();
            let record = serde_json::json!({ "module": "m" });
            store
                .audited(5, "loaded", &record, |s| {
                    s.save_module("m", "community", "x = 1\n", &record, &health, 5)
                })
                .unwrap();
            store.add_grant(&grant).unwrap();
            store.audit(5, "quarantined", &record).unwrap();
        }
        let store = Store::open(&dir).unwrap();
        let modules = store.modules().unwrap();
        assert_eq!(modules[0].health, health);
        assert_eq!(modules[0].source, "x = 1\n");
        assert_eq!(store.grants().unwrap(), std::slice::from_ref(&grant));
        assert_eq!(store.audit_count("quarantined").unwrap(), 1);
        assert_eq!(store.audit_count("loaded").unwrap(), 1);
        assert_eq!(store.revoke(&grant).unwrap(), 1);
        store.remove_module("m").unwrap();
        assert!(store.modules().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_change_whose_audit_record_fails_is_rolled_back() {
        let dir = std::env::temp_dir().join(format!("pyward-store-tx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        let grant = Grant {
            user: "@a".into(),
            target: GrantTarget::Module { module: "m".into() },
            expires_at_ms: None,
        };
        // The audit insert fails (its table is gone) after the grant was written.
        store.conn.execute_batch("DROP TABLE audit").unwrap();
        let failed = store.audited(1, "grant", &serde_json::json!({}), |s| s.add_grant(&grant));
        assert!(failed.is_err());
        assert!(
            store.grants().unwrap().is_empty(),
            "the grant was rolled back"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn storage_quotas_refuse_and_keep_what_was_there() {
        let dir = std::env::temp_dir().join(format!("pyward-store-kv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.kv_set("m", "a", "\"1\"", 2, 100).unwrap(), Ok(()));
        assert_eq!(store.kv_set("m", "b", "2", 2, 100).unwrap(), Ok(()));
        assert_eq!(
            store.kv_set("m", "c", "3", 2, 100).unwrap(),
            Err(KvRefusal::Keys(2))
        );
        // Replacing a key is not one more key, but its new size counts.
        assert_eq!(
            store.kv_set("m", "a", &"x".repeat(200), 2, 100).unwrap(),
            Err(KvRefusal::Bytes(100))
        );
        assert_eq!(store.kv_get("m", "a").unwrap().as_deref(), Some("\"1\""));
        assert_eq!(
            store.kv_get("other", "a").unwrap(),
            None,
            "scoped by module"
        );
        assert_eq!(store.kv_keys("m", "", 10).unwrap(), ["a", "b"]);
        assert_eq!(store.kv_keys("m", "b", 10).unwrap(), ["b"]);
        assert!(store.kv_delete("m", "a").unwrap());
        assert_eq!(store.kv_usage("m").unwrap(), (1, 2));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn schedules_fire_once_or_skip_missed_slots() {
        let dir = std::env::temp_dir().join(format!("pyward-store-sch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        store
            .sync_periodic("m", &[("tick".into(), 1000)], 10_000)
            .unwrap();
        assert!(
            store
                .schedule_at("m", "later", "1", 10_500, 1)
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .schedule_at("m", "more", "2", 10_500, 1)
                .unwrap()
                .is_none(),
            "cap"
        );
        // Down from 10 s to 15.2 s: the one-off is still due; the periodic slot moves on.
        assert_eq!(store.skip_missed_periodic(15_200).unwrap(), 1);
        let due = store.take_due(15_200).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].name.as_str(), due[0].periodic), ("later", false));
        assert!(store.take_due(15_200).unwrap().is_empty(), "fired once");
        let due = store.take_due(16_000).unwrap();
        assert_eq!((due[0].name.as_str(), due[0].due_ms), ("tick", 16_000));
        assert!(store.take_due(16_500).unwrap().is_empty());
        assert_eq!(next_slot(16_000, 1000, 18_500), 19_000);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn grants_stored_in_seconds_are_converted_once() {
        let dir = std::env::temp_dir().join(format!("pyward-store-old-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        {
            let conn = Connection::open(dir.join("state.db")).unwrap();
            conn.execute_batch(
                "CREATE TABLE grants (id INTEGER PRIMARY KEY, user TEXT NOT NULL,
                     module TEXT NOT NULL, command TEXT, expires_at INTEGER);
                 INSERT INTO grants (user, module, command, expires_at) VALUES ('@a', 'm', 'c', 99);
                 INSERT INTO grants (user, module, command, expires_at) VALUES ('@b', 'm', NULL, NULL);",
            )
            .unwrap();
        }
        for _ in 0..2 {
            let grants = Store::open(&dir).unwrap().grants().unwrap();
            let lifetimes: Vec<_> = grants.iter().map(|g| (&*g.user, g.expires_at_ms)).collect();
            assert_eq!(lifetimes, [("@a", Some(99_000)), ("@b", None)]);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
