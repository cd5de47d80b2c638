//! `acl.grant` and `acl.revoke`: grants of a module or a command to a chat user, with an optional
//! lifetime; an expired grant is reported once and removed.

use pyward_policy::acl::{Grant, GrantTarget};
use serde_json::{Value, json};

use super::error::DaemonError;
use super::params::param;
use super::state::{State, lock, now_ms};

/// The longest lifetime a grant may be given (ten years); longer is a typo, or means "forever",
/// which is said by leaving the lifetime out.
pub(super) const MAX_GRANT_SECONDS: f64 = 10.0 * 365.0 * 24.0 * 3600.0;

pub(super) fn grant_from(params: &Value) -> Result<Grant, DaemonError> {
    let user = param(params, "user")?.to_string();
    let module = param(params, "module")?.to_string();
    let target = match params["command"].as_str() {
        Some(command) => GrantTarget::Command {
            module,
            command: command.to_string(),
        },
        None => GrantTarget::Module { module },
    };
    // A lifetime that is present but not a positive number is refused: read as "no lifetime",
    // it would make a grant meant to expire last forever.
    let expires_at_ms = match &params["expires_in_seconds"] {
        Value::Null => None,
        value => match value.as_f64() {
            Some(seconds) if seconds > 0.0 && seconds <= MAX_GRANT_SECONDS => {
                Some(now_ms() + (seconds * 1000.0).ceil() as u64)
            }
            _ => {
                return Err(DaemonError::BadLifetime {
                    value: value.clone(),
                });
            }
        },
    };
    Ok(Grant {
        user,
        target,
        expires_at_ms,
    })
}

/// An expired grant is reported once: the refusal that finds it removes it (memory and store)
/// and records `grant_expired`; later attempts are plain level refusals.
pub(super) fn forget_expired_grants(state: &State, user: &str, module: &str, command: &str) {
    let now = now_ms();
    let mut grants = lock(&state.grants);
    let expired: Vec<Grant> = grants
        .iter()
        .filter(|g| g.covers(user, module, command) && g.expired(now))
        .cloned()
        .collect();
    grants.retain(|g| !expired.contains(g));
    drop(grants);
    for grant in expired {
        // Expired either way; if the disk refuses, the stored copy is found expired again.
        let _ = state.audited("grant_expired", json!({ "grant": grant }), |s| {
            s.revoke(&grant)
        });
    }
}
