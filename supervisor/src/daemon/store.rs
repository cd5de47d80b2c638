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
";

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
