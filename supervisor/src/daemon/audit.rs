//! Audit records: every security event and every change is a record in the database and a JSON
//! line on stderr. A refusal is answered even if its record could not be written (the error
//! then says so); a change is never acknowledged without its record (one transaction).

use serde_json::{Value, json};

use super::error::DaemonError;
use super::params::AuditList;
use super::state::{State, lock, now_secs};
use super::store::Store;

/// `{time, event, ...details}`, stamped now.
pub(super) fn audit_record(event: &str, details: Value) -> (u64, Value) {
    let time = now_secs();
    let mut record = json!({ "time": time, "event": event });
    if let (Value::Object(r), Value::Object(d)) = (&mut record, details) {
        r.extend(d);
    }
    (time, record)
}

/// `audit.list`: the newest records, oldest first.
pub(super) fn list(state: &State, params: AuditList) -> Result<Value, DaemonError> {
    Ok(lock(&state.store)
        .audit_log(params.limit)
        .map(Value::Array)?)
}

impl State {
    /// An audit record of something that happened (a worker replaced, a refusal): written to
    /// stderr as one JSON line and committed to the database. If the database refuses it (a full
    /// disk), stderr says so too, and the failure is returned.
    pub(super) fn try_audit(&self, event: &str, details: Value) -> Result<(), String> {
        let (time, record) = audit_record(event, details);
        eprintln!("{record}");
        lock(&self.store).audit(time, event, &record).map_err(|e| {
            let error = e.to_string();
            eprintln!(
                "{}",
                json!({ "event": "audit_write_failed", "error": error, "record": record })
            );
            error
        })
    }

    /// [`State::try_audit`] where nobody waits for the answer (stderr keeps the record).
    pub(super) fn audit(&self, event: &str, details: Value) {
        let _ = self.try_audit(event, details);
    }

    /// Audit a refusal and return the error the client sees; if the record could not be
    /// committed, the error says so (`data.audit_failed`).
    pub(super) fn refuse(&self, error: DaemonError, event: &str, details: Value) -> DaemonError {
        match self.try_audit(event, details) {
            Ok(()) => error,
            Err(why) => DaemonError::AuditFailed {
                error: Box::new(error),
                why,
            },
        }
    }

    /// A change to the stored state and its audit record, committed in one transaction: the
    /// client is told of the change only if both are on disk.
    pub(super) fn audited<T>(
        &self,
        event: &str,
        details: Value,
        change: impl FnOnce(&Store) -> rusqlite::Result<T>,
    ) -> Result<T, DaemonError> {
        let (time, record) = audit_record(event, details);
        let out = lock(&self.store)
            .audited(time, event, &record, change)
            .map_err(|source| DaemonError::NotRecorded {
                event: event.to_string(),
                source,
            })?;
        eprintln!("{record}");
        Ok(out)
    }

    /// `connection_refused` records (see [`Refusals`](super::peers::Refusals)).
    pub(super) fn audit_refusals(&self, records: Vec<Value>) {
        for record in records {
            self.audit("connection_refused", record);
        }
    }
}
