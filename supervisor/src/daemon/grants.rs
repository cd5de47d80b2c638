//! `acl.grant`, `acl.revoke` and `acl.list`: grants of a module or a command to a chat user, with
//! an optional lifetime; an expired grant is reported once and removed.

use pyward_policy::acl::{Grant, GrantTarget};
use serde_json::{Value, json};

use super::error::DaemonError;
use super::params::GrantRequest;
use super::state::{State, lock, now_ms};

/// The longest lifetime a grant may be given (ten years); longer is a typo, or means "forever",
/// which is said by leaving the lifetime out.
pub(super) const MAX_GRANT_SECONDS: f64 = 10.0 * 365.0 * 24.0 * 3600.0;

/// The grant a request describes; its lifetime starts now.
fn grant_from(request: GrantRequest) -> Grant {
    let GrantRequest {
        user,
        module,
        command,
        expires_in_seconds,
    } = request;
    let target = match command {
        Some(command) => GrantTarget::Command { module, command },
        None => GrantTarget::Module { module },
    };
    let expires_at_ms =
        expires_in_seconds.map(|seconds| now_ms() + (seconds * 1000.0).ceil() as u64);
    Grant {
        user,
        target,
        expires_at_ms,
    }
}

/// `acl.grant`: recorded (with its audit record) before it is told.
pub(super) fn grant(state: &State, request: GrantRequest) -> Result<Value, DaemonError> {
    let grant = grant_from(request);
    state.audited("grant", json!({ "grant": grant }), |s| s.add_grant(&grant))?;
    lock(&state.grants).push(grant.clone());
    Ok(json!({ "granted": grant }))
}

/// `acl.revoke`: every grant of that user and target goes; the answer counts them.
pub(super) fn revoke(state: &State, request: GrantRequest) -> Result<Value, DaemonError> {
    let grant = grant_from(request);
    state.audited("revoke", json!({ "grant": grant }), |s| s.revoke(&grant))?;
    let mut grants = lock(&state.grants);
    let before = grants.len();
    grants.retain(|g| g.user != grant.user || g.target != grant.target);
    Ok(json!({ "revoked": before - grants.len() }))
}

/// `acl.list`.
pub(super) fn list(state: &State) -> Value {
    json!(*lock(&state.grants))
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
