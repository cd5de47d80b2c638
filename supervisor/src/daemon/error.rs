//! Everything the daemon can refuse or fail with, as one enum, and the one mapping from it to
//! the JSON-RPC error a client sees (a stable code, `data.reason`, details; docs/protocol.md).
//!
//! Handlers return [`DaemonError`]; the mapping ([`From<DaemonError> for RpcError`]) is applied
//! where an error leaves the daemon: a request's answer (`dispatch`), a connection refused or
//! closed (`listen`, `connection`), and where the wire form is kept as it was sent (the
//! per-module entries of a `module.event` answer, a `reload_failed` record, a
//! `schedule_failed` log line). The message a client sees is the variant's `Display`.

use pyward_policy::acl;
use pyward_policy::config::KNOWN_EVENTS;
use pyward_policy::manifest::Capabilities;
use pyward_worker::verdict::Verdict;
use serde_json::{Value, json};

use super::budget::Exceeded;
use super::grants::MAX_GRANT_SECONDS;
use super::rpc::{self, Reason, RpcError};
use super::verdicts;
use super::vetting::MAX_NAME;

#[derive(Debug, thiserror::Error)]
pub(crate) enum DaemonError {
    // The line or the request itself.
    #[error("line longer than {max} bytes (server.max_line_bytes)")]
    LineTooLong { max: usize },
    #[error("the line is not UTF-8")]
    NotUtf8,
    #[error("no method `{method}`")]
    NoMethod { method: String },

    // A parameter is missing or wrong (`data.param` names it, where it always did).
    #[error("missing string parameter `{param}`")]
    MissingString { param: &'static str },
    #[error("`{param}` must be true or false")]
    NotABool { param: &'static str },
    #[error("`{param}` must be a string")]
    NotAString { param: &'static str },
    #[error("{why}")]
    BadParam {
        param: &'static str,
        why: &'static str,
    },
    #[error("`event.type` must be one of {}", KNOWN_EVENTS.join(", "))]
    UnknownEventType,
    #[error("`{key}` is marked secret but has no value in `values`")]
    SecretWithoutValue { key: String },
    #[error("missing `caller.user` (the chat identity calling)")]
    NoCaller,
    #[error("give exactly one of `command` or `function`")]
    CommandOrFunction,
    #[error(
        "`expires_in_seconds` must be a number of seconds above 0 and at most \
         {max}, not {value}; leave it out for a grant that never expires",
        max = MAX_GRANT_SECONDS
    )]
    BadLifetime { value: Value },
    #[error("a module name is 1 to {max} letters, digits, _ and -", max = MAX_NAME)]
    BadName { name: String },
    #[error("no trust tier `{tier}`")]
    NoTier { tier: String },
    #[error(
        "the version of `{module}` waiting for approval has source_sha256 {pending}, not {given}: \
         it changed since you reviewed it"
    )]
    ChangedSinceReview {
        module: String,
        pending: String,
        given: String,
    },
    #[error(
        "module `{module}`'s manifest declares no config key `{key}` (declared: {})",
        declared.join(", ")
    )]
    UndeclaredConfigKey {
        module: String,
        key: String,
        declared: Vec<String>,
    },
    #[error(
        "the supervisor runs on the built-in defaults; start it with --config to reload a file"
    )]
    NoPolicyFile,
    #[error("the policy file is invalid; nothing changed")]
    InvalidPolicy { errors: Vec<String> },

    // Who may do what.
    #[error("no peer credentials: {0}")]
    NoPeerCredentials(std::io::Error),
    #[error("uid {uid} gid {gid} may not use this socket")]
    NotAClient { uid: u32, gid: u32 },
    #[error("{method} needs the admin role")]
    AdminOnly { method: String },
    #[error("{user} may not run {module}.{command}")]
    CallDenied {
        user: String,
        module: String,
        command: String,
        denied: acl::Denied,
    },
    #[error("{user} is over the limit for {module}")]
    RateLimited {
        user: String,
        module: String,
        calls_per_window: u32,
        window_seconds: u64,
    },
    #[error(
        "uid {uid} is over the rate limit for one-shot runs \
         (rate_limit.calls_per_window per rate_limit.window_seconds)"
    )]
    OneShotRateLimited {
        uid: u32,
        calls_per_window: u32,
        window_seconds: u64,
    },

    // Modules.
    #[error("no module named `{module}` is loaded")]
    NotLoaded { module: String },
    #[error("no version of `{module}` waits for approval")]
    NothingPending { module: String },
    #[error("module `{module}` is quarantined until an owner releases it")]
    Quarantined {
        module: String,
        last_violation: Option<String>,
    },
    #[error("module `{module}` was rejected by the scanner")]
    ScanRejected { module: String, findings: Value },
    #[error("module `{module}` was rejected by the parser cross-check")]
    ParserDifferential { module: String, findings: Value },
    #[error(
        "module `{module}` asks for more than its tier `{tier}` can grant: {}",
        over.join("; ")
    )]
    BeyondTier {
        module: String,
        tier: String,
        over: Vec<String>,
        requested: Box<Capabilities>,
    },
    #[error(
        "module `{module}` handles the event `{event}` (@pyward.on) but its manifest \
         does not ask for it (events=[...])"
    )]
    UndeclaredEvent { module: String, event: String },
    #[error(
        "module `{module}` declares @pyward.every handlers but its manifest does not ask \
         for schedules=True"
    )]
    SchedulesNotAsked { module: String },
    #[error("module `{module}`'s tier `{tier}` no longer exists")]
    TierGone { module: String, tier: String },

    // Budgets.
    #[error("{}", .0.message)]
    Budget(Exceeded),
    #[error(
        "uid {uid} already holds {max} connections (server.max_connections_per_uid); \
         close some, or raise the budget in the policy"
    )]
    TooManyConnections { uid: u32, max: usize },
    #[error(
        "closing this connection: uid {uid} would hold {total} bytes of unfinished lines \
         (no newline yet) over its connections, over \
         server.max_buffered_bytes_per_uid ({max}); end each request with a \
         newline"
    )]
    UnfinishedLines { uid: u32, total: usize, max: usize },
    #[error(
        "this connection already has {max} requests in flight \
         (server.max_requests_in_flight); wait for their answers, or raise \
         the budget in the policy"
    )]
    TooManyInFlight { max: usize },
    #[error("the event is {size} bytes, over events.max_event_bytes ({max})")]
    EventTooLarge { size: usize, max: usize },
    #[error("the value of `{key}` is {size} bytes, over module_config.max_value_bytes ({max})")]
    ConfigValueTooLarge {
        key: String,
        size: usize,
        max: usize,
    },
    #[error(
        "{limit} one-shot runs are already running {whose} ({budget}); wait for \
         one to finish, or raise the budget in the policy"
    )]
    OneShotsBusy {
        budget: &'static str,
        limit: usize,
        whose: &'static str,
    },

    // Workers.
    #[error("{}", .0.detail.lines().next().unwrap_or(""))]
    Verdict(Verdict),
    #[error(
        "the policy requires per-worker cgroups with the memory and pids controllers, which this supervisor's cgroup does not offer (see health.cgroups); delegate them (systemd Delegate=yes) or drop cgroup from sandbox.require"
    )]
    CgroupsRequired,
    #[error("cannot start a worker: {0}")]
    WorkerStart(std::io::Error),

    // The supervisor itself.
    #[error(
        "cannot start a worker: the supervisor is out of resources ({0}); raise its LimitNOFILE or memory, or lower the load"
    )]
    OutOfResources(std::io::Error),
    #[error("cannot make the worker's cgroup: {0}")]
    Cgroup(std::io::Error),
    #[error("cannot start a new zygote: {0}")]
    ZygoteStart(std::io::Error),
    #[error(
        "cannot record `{event}`, so it was not done: {source} (is the state directory's disk full?)"
    )]
    NotRecorded {
        event: String,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),

    // An error whose side effect failed: it is still answered, and says so.
    /// A refusal whose audit record could not be written (`data.audit_failed`).
    #[error("{error}")]
    AuditFailed {
        error: Box<DaemonError>,
        why: String,
    },
    /// A failed call whose new health could not be written (`data.health_not_recorded`).
    #[error("{error}")]
    HealthNotRecorded {
        error: Box<DaemonError>,
        source: rusqlite::Error,
    },
}

impl From<DaemonError> for RpcError {
    fn from(error: DaemonError) -> RpcError {
        use DaemonError as E;
        let message = error.to_string();
        let (reason, details) = match error {
            // Errors of other parts that carry their own wire form.
            E::Verdict(verdict) => return verdicts::from_verdict(&verdict),
            E::Budget(exceeded) => return exceeded.error(),
            E::AuditFailed { error, why } => return noting(*error, "audit_failed", json!(why)),
            E::HealthNotRecorded { error, source } => {
                let why = format!("cannot record health: {source}");
                return noting(*error, "health_not_recorded", json!(why));
            }
            E::LineTooLong { max } => (
                Reason::BadRequest,
                json!({ "budget": "server.max_line_bytes", "limit": max }),
            ),
            E::NotUtf8 => (Reason::ParseError, json!({})),
            E::NoMethod { method } => (Reason::MethodNotFound, json!({ "method": method })),
            E::MissingString { param }
            | E::NotABool { param }
            | E::NotAString { param }
            | E::BadParam { param, .. } => (Reason::InvalidParams, json!({ "param": param })),
            E::UnknownEventType => (Reason::InvalidParams, json!({ "param": "event" })),
            E::SecretWithoutValue { .. } => (Reason::InvalidParams, json!({ "param": "secret" })),
            E::NoCaller => (Reason::InvalidParams, json!({ "param": "caller.user" })),
            E::CommandOrFunction => (Reason::InvalidParams, json!({ "param": "command" })),
            E::NoPolicyFile => (Reason::InvalidParams, json!({})),
            E::BadLifetime { .. } => (
                Reason::InvalidParams,
                json!({ "param": "expires_in_seconds" }),
            ),
            E::BadName { name } => (
                Reason::InvalidParams,
                json!({ "param": "name", "name": name }),
            ),
            E::NoTier { tier } => (Reason::InvalidParams, json!({ "tier": tier })),
            E::ChangedSinceReview { pending, .. } => (
                Reason::InvalidParams,
                json!({ "param": "source_sha256", "pending": pending }),
            ),
            E::UndeclaredConfigKey { key, .. } => (
                Reason::InvalidParams,
                json!({ "param": "values", "key": key }),
            ),
            E::InvalidPolicy { errors } => (Reason::InvalidParams, json!({ "errors": errors })),
            E::NoPeerCredentials(_) | E::NotAClient { .. } => (Reason::AclDenied, json!({})),
            E::AdminOnly { method } => (Reason::AclDenied, json!({ "method": method })),
            E::CallDenied { denied, .. } => (Reason::AclDenied, json!({ "denied": denied })),
            E::RateLimited {
                calls_per_window,
                window_seconds,
                ..
            }
            | E::OneShotRateLimited {
                calls_per_window,
                window_seconds,
                ..
            } => (
                Reason::RateLimited,
                json!({ "calls_per_window": calls_per_window, "window_seconds": window_seconds }),
            ),
            E::NotLoaded { module } | E::NothingPending { module } => {
                (Reason::NotFound, json!({ "module": module }))
            }
            E::Quarantined {
                module,
                last_violation,
            } => (
                Reason::Quarantined,
                json!({ "module": module, "last_violation": last_violation }),
            ),
            E::ScanRejected { findings, .. } | E::ParserDifferential { findings, .. } => {
                (Reason::ScanRejected, json!({ "findings": findings }))
            }
            E::BeyondTier {
                module,
                tier,
                over,
                requested,
            } => (
                Reason::CapabilityDenied,
                json!({ "module": module, "tier": tier, "over": over, "requested": requested }),
            ),
            E::UndeclaredEvent { module, event } => (
                Reason::CapabilityDenied,
                json!({ "module": module, "event": event }),
            ),
            E::SchedulesNotAsked { module, .. } | E::TierGone { module, .. } => {
                (Reason::CapabilityDenied, json!({ "module": module }))
            }
            E::TooManyConnections { max, .. } => (
                Reason::BudgetExceeded,
                json!({ "budget": "server.max_connections_per_uid", "limit": max }),
            ),
            E::UnfinishedLines { max, .. } => (
                Reason::BudgetExceeded,
                json!({ "budget": "server.max_buffered_bytes_per_uid", "limit": max }),
            ),
            E::TooManyInFlight { max } => (
                Reason::BudgetExceeded,
                json!({ "budget": "server.max_requests_in_flight", "limit": max }),
            ),
            E::EventTooLarge { max, .. } => (
                Reason::BudgetExceeded,
                json!({ "budget": "events.max_event_bytes", "limit": max }),
            ),
            E::ConfigValueTooLarge { key, max, .. } => (
                Reason::BudgetExceeded,
                json!({ "budget": "module_config.max_value_bytes", "limit": max, "key": key }),
            ),
            E::OneShotsBusy { budget, limit, .. } => (
                Reason::BudgetExceeded,
                json!({ "budget": budget, "limit": limit }),
            ),
            E::CgroupsRequired => (Reason::SandboxViolation, json!({ "layer": "cgroup" })),
            E::WorkerStart(_) => (Reason::WorkerCrashed, json!({})),
            E::OutOfResources(_)
            | E::Cgroup(_)
            | E::ZygoteStart(_)
            | E::NotRecorded { .. }
            | E::Store(_)
            | E::Task(_) => (Reason::Internal, json!({})),
        };
        rpc::error(reason, message, details)
    }
}

/// `error` as the client sees it, with one more detail.
fn noting(error: DaemonError, key: &str, value: Value) -> RpcError {
    let mut error = RpcError::from(error);
    if let Value::Object(data) = &mut error.data {
        data.insert(key.into(), value);
    }
    error
}

#[cfg(test)]
mod tests {
    use pyward_worker::verdict::Status;

    use super::*;

    #[test]
    fn an_error_whose_side_effects_failed_keeps_its_reason_and_says_so() {
        let verdict = Verdict {
            status: Status::SandboxViolation,
            layer: Some(pyward_worker::verdict::Layer::Seccomp),
            detail: "execve\nmore".into(),
        };
        let error = DaemonError::AuditFailed {
            error: Box::new(DaemonError::AuditFailed {
                error: Box::new(DaemonError::HealthNotRecorded {
                    error: Box::new(DaemonError::Verdict(verdict)),
                    source: rusqlite::Error::InvalidQuery,
                }),
                why: "disk full".into(),
            }),
            why: "disk still full".into(),
        };
        assert_eq!(error.to_string(), "execve");
        let e = RpcError::from(error);
        assert_eq!((e.code, e.message.as_str()), (1006, "execve"));
        // In the order the daemon always added them; a second audit failure replaces the first.
        let keys: Vec<&String> = e.data.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "reason",
                "layer",
                "detail",
                "health_not_recorded",
                "audit_failed"
            ]
        );
        assert_eq!(e.data["audit_failed"], "disk still full");
        assert_eq!(
            e.data["health_not_recorded"],
            format!("cannot record health: {}", rusqlite::Error::InvalidQuery)
        );
    }

    #[test]
    fn codes_reasons_and_details_are_the_protocol_s() {
        let cases = [
            (
                DaemonError::NotUtf8,
                -32700,
                json!({ "reason": "bad_request" }),
            ),
            (
                DaemonError::LineTooLong { max: 10 },
                -32600,
                json!({ "reason": "bad_request", "budget": "server.max_line_bytes", "limit": 10 }),
            ),
            (
                DaemonError::NoMethod { method: "x".into() },
                -32601,
                json!({ "reason": "method_not_found", "method": "x" }),
            ),
            (
                DaemonError::BadName { name: "a/b".into() },
                -32602,
                json!({ "reason": "bad_request", "param": "name", "name": "a/b" }),
            ),
            (
                DaemonError::NotRecorded {
                    event: "grant".into(),
                    source: rusqlite::Error::InvalidQuery,
                },
                -32603,
                json!({ "reason": "internal" }),
            ),
            (
                DaemonError::Quarantined {
                    module: "m".into(),
                    last_violation: None,
                },
                1005,
                json!({ "reason": "quarantined", "module": "m", "last_violation": null }),
            ),
            (
                DaemonError::TooManyInFlight { max: 4 },
                1012,
                json!({ "reason": "budget_exceeded", "budget": "server.max_requests_in_flight", "limit": 4 }),
            ),
            (
                DaemonError::CgroupsRequired,
                1006,
                json!({ "reason": "sandbox_violation", "layer": "cgroup" }),
            ),
        ];
        for (error, code, data) in cases {
            let message = error.to_string();
            let e = RpcError::from(error);
            assert_eq!((e.code, &e.data), (code, &data), "{message}");
            assert_eq!(e.message, message);
        }
        assert_eq!(
            DaemonError::NotRecorded {
                event: "grant".into(),
                source: rusqlite::Error::InvalidQuery
            }
            .to_string(),
            format!(
                "cannot record `grant`, so it was not done: {} (is the state directory's disk full?)",
                rusqlite::Error::InvalidQuery
            )
        );
    }
}
