//! The call pipeline: `module.call` is checked (ACL, rate limit, quarantine), then run in the
//! module's persistent worker with its host calls relayed, and settled (`settle`): how the
//! worker ended becomes the answer, and a failure counts against the module's health.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyward_policy::Policy;
use pyward_policy::acl;
use pyward_policy::config::HostCall;
use pyward_worker::link::Json;
use pyward_worker::process::WorkerFailure;
use pyward_worker::runtime::Target;
use serde_json::{Value, json};

use super::budget::HostCalls;
use super::connection::Conn;
use super::error::DaemonError;
use super::grants::forget_expired_grants;
use super::params::Call;
use super::registry::not_found;
use super::relay::{Origin, Relay, Route};
use super::settle::{record_failure, settle, verdict_of};
use super::state::{Module, State, lock, now_ms};
use super::workers::start_worker;

/// `module.call`: ACL, rate limit, quarantine, then the call in the module's worker with host
/// calls relayed to this connection.
pub(super) async fn call(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    params: Call,
) -> Result<Value, DaemonError> {
    let policy = state.policy();
    let Call {
        module: module_name,
        user,
        target,
        name,
        args,
        event,
    } = params;
    let declared = {
        let modules = lock(&state.modules);
        let module = modules
            .get(&module_name)
            .ok_or_else(|| not_found(&module_name))?;
        check_quarantine(module)?;
        module
            .commands
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.security)
    };
    let grants = lock(&state.grants).clone();
    if let Err(denied) = acl::decide(
        &policy.acl,
        &grants,
        &user,
        &module_name,
        &name,
        declared,
        now_ms(),
    ) {
        let error = DaemonError::CallDenied {
            user: user.clone(),
            module: module_name.clone(),
            command: name.clone(),
            denied: denied.clone(),
        };
        // The records go to disk off the async threads.
        let state = state.clone();
        let refused = tokio::task::spawn_blocking(move || {
            if matches!(denied, acl::Denied::GrantExpired { .. }) {
                forget_expired_grants(&state, &user, &module_name, &name);
            }
            state.refuse(
                error,
                "acl_denied",
                json!({ "user": user, "module": module_name, "command": name, "denied": denied }),
            )
        })
        .await?;
        return Err(refused);
    }
    rate_limit(state, &policy, &user, &module_name)?;
    execute(
        state,
        &module_name,
        &user,
        Invocation {
            target,
            args,
            event,
            route: Route::Caller(conn.clone()),
            kind: "module",
        },
    )
    .await
}

fn check_quarantine(module: &Module) -> Result<(), DaemonError> {
    if module.health.quarantined {
        return Err(DaemonError::Quarantined {
            module: module.name.clone(),
            last_violation: module.health.last_violation.clone(),
        });
    }
    Ok(())
}

pub(super) fn rate_limit(
    state: &State,
    policy: &Policy,
    user: &str,
    module: &str,
) -> Result<(), DaemonError> {
    if lock(&state.limiter).try_acquire(user, module, now_ms()) {
        return Ok(());
    }
    Err(DaemonError::RateLimited {
        user: user.to_string(),
        module: module.to_string(),
        calls_per_window: policy.rate_limit.calls_per_window,
        window_seconds: policy.rate_limit.window_seconds,
    })
}

/// One call into a loaded module, once it has been allowed.
pub(super) struct Invocation {
    pub(super) target: Target,
    pub(super) args: Value,
    pub(super) event: Value,
    pub(super) route: Route,
    /// The `origin` its host calls carry: `module`, `event` or `schedule`.
    pub(super) kind: &'static str,
}

/// Run a call in the module's persistent worker, its host calls checked and routed; record the
/// outcome in the module's health (a failure at once, audited).
pub(super) async fn execute(
    state: &Arc<State>,
    module_name: &str,
    user: &str,
    invocation: Invocation,
) -> Result<Value, DaemonError> {
    let policy = state.policy();
    let module_name = module_name.to_string();
    let user = user.to_string();
    let (worker, tier, source, caps) = {
        let modules = lock(&state.modules);
        let module = modules
            .get(&module_name)
            .ok_or_else(|| not_found(&module_name))?;
        check_quarantine(module)?;
        (
            module.worker.clone(),
            module.tier.clone(),
            module.source.clone(),
            module.caps.clone(),
        )
    };
    let Some(tier_def) = policy.tiers.get(&tier).cloned() else {
        return Err(DaemonError::TierGone {
            module: module_name,
            tier,
        });
    };
    let granted: BTreeSet<HostCall> = caps.granted_calls(&tier_def);
    let state2 = state.clone();
    let module2 = module_name.clone();
    let wall_ms = policy.sandbox.wall_ms;
    let cpu_seconds = policy.sandbox.cpu_seconds;
    let budgets = policy.budgets;
    let max_line = policy.server.max_line_bytes;
    let Invocation {
        target,
        args,
        event,
        route,
        kind,
    } = invocation;
    let outcome = tokio::task::spawn_blocking(move || {
        let mut slot = lock(&worker);
        // A worker that ended while idle (killed from outside, or its zygote died) did nothing
        // wrong: it is replaced without counting against the module's health.
        if let Some(ending) = slot.as_mut().and_then(|w| w.process.ended_while_idle()) {
            state2.audit(
                "worker_replaced",
                json!({ "module": module2, "why": "it ended while idle", "ending": ending }),
            );
            *slot = None;
        }
        if slot.is_none() {
            let (w, _) = start_worker(&state2, &module2, &source, &granted)?;
            *slot = Some(w);
        }
        let w = slot.as_mut().expect("a worker was just started");
        let deadline = Instant::now() + Duration::from_millis(wall_ms);
        let mut relay = Relay {
            state: &state2,
            route: &route,
            origin: Origin::Module {
                name: &module2,
                caps: &caps,
                kind,
            },
            tier: &tier,
            granted: &granted,
            event: &event,
            calls: HostCalls::new(&module2, &budgets, max_line),
        };
        let (result, oom) = relay.call(
            w,
            &target,
            Json::from_value(&args),
            Json::from_value(&event),
            deadline,
        );
        // RLIMIT_CPU counts a worker's whole life: a persistent worker that has used half its
        // budget is replaced (a fresh one costs a zygote fork), so that many short calls never
        // add up to a CPU-limit kill. One call still has the whole budget and the deadline.
        let worn = pyward_worker::sys::cpu_seconds_used(w.process.pid())
            .is_some_and(|used| used * 2.0 >= cpu_seconds as f64);
        if matches!(
            result,
            Err(WorkerFailure::Died { .. }
                | WorkerFailure::Deadline { .. }
                | WorkerFailure::Protocol { .. })
        ) {
            // The worker is gone (or was killed): the next call starts a fresh one.
            *slot = None;
        } else if worn {
            *slot = None;
        }
        Ok::<_, DaemonError>((result, oom, relay.calls.bitten()))
    })
    .await??;
    let (outcome, oom, bitten) = outcome;
    let verdict = verdict_of(&outcome, oom, &policy.sandbox);
    let answer = settle(&module_name, &policy, outcome, verdict, bitten);
    {
        let mut modules = lock(&state.modules);
        let module = modules
            .get_mut(&module_name)
            .ok_or_else(|| not_found(&module_name))?;
        module.calls += 1;
        if answer.is_ok() {
            module.health.record_success(&policy.quarantine);
            lock(&state.dirty_health).insert(module_name.clone());
        }
    }
    let failure = match answer {
        Ok(value) => return Ok(value),
        Err(failure) => failure,
    };
    // A failure is written to disk at once (health, audit), off the async threads: the calls of
    // other modules never wait on it.
    let state = state.clone();
    tokio::task::spawn_blocking(move || record_failure(&state, &module_name, &user, &failure))
        .await?
}
