//! `run`: a one-shot pipeline step in a fresh worker that is thrown away afterwards, under the
//! one-shot concurrency budgets and one rate-limit window per peer uid.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyward_policy::config::HostCall;
use pyward_worker::link::Json;
use pyward_worker::runtime::Target;
use pyward_worker::verdict::Layer;
use serde_json::{Value, json};

use super::budget::HostCalls;
use super::connection::Conn;
use super::error::DaemonError;
use super::params::Run;
use super::relay::{Origin, Relay, Route};
use super::settle::{Failure, settle, verdict_of};
use super::state::{State, lock, now_ms};
use super::vetting::{check_name, scan_or_reject, tier_of};
use super::workers::start_worker;

/// The rate limiter's key for one-shot runs: one window per peer uid, under a name no module
/// can have (module names have no `:`).
const ONE_SHOT_RATE_KEY: &str = "run:";

/// A one-shot worker counted against `budgets.max_one_shot_per_connection` and
/// `budgets.max_one_shot_workers` while it runs.
struct OneShotSlot {
    state: Arc<State>,
    conn: Arc<Conn>,
}

impl OneShotSlot {
    fn take(
        state: &Arc<State>,
        conn: &Arc<Conn>,
        budgets: &pyward_policy::config::Budgets,
    ) -> Result<OneShotSlot, DaemonError> {
        let take = |count: &AtomicUsize, max: usize| {
            count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_ok()
        };
        let refused = |budget, limit, whose| DaemonError::OneShotsBusy {
            budget,
            limit,
            whose,
        };
        let per_connection = budgets.max_one_shot_per_connection;
        if !take(&conn.one_shots, per_connection) {
            return Err(refused(
                "budgets.max_one_shot_per_connection",
                per_connection,
                "for this connection",
            ));
        }
        if !take(&state.one_shots, budgets.max_one_shot_workers) {
            conn.one_shots.fetch_sub(1, Ordering::AcqRel);
            return Err(refused(
                "budgets.max_one_shot_workers",
                budgets.max_one_shot_workers,
                "in all",
            ));
        }
        Ok(OneShotSlot {
            state: state.clone(),
            conn: conn.clone(),
        })
    }
}

impl Drop for OneShotSlot {
    fn drop(&mut self) {
        self.conn.one_shots.fetch_sub(1, Ordering::AcqRel);
        self.state.one_shots.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `run`, before any work: the name, the concurrency budgets, then the rate limit (one window
/// per peer uid for all its one-shot runs).
pub(super) async fn run_one_shot(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    params: Run,
) -> Result<Value, DaemonError> {
    let policy = state.policy();
    let name = params.name.clone();
    check_name(&name)?;
    let slot = OneShotSlot::take(state, conn, &policy.budgets)?;
    let peer = format!("peer uid {}", conn.uid);
    if !lock(&state.limiter).try_acquire(&peer, ONE_SHOT_RATE_KEY, now_ms()) {
        return Err(DaemonError::OneShotRateLimited {
            uid: conn.uid,
            calls_per_window: policy.rate_limit.calls_per_window,
            window_seconds: policy.rate_limit.window_seconds,
        });
    }
    let state = state.clone();
    let conn = conn.clone();
    tokio::task::spawn_blocking(move || {
        let answer = one_shot(&state, &conn, &name, &params);
        drop(slot);
        answer
    })
    .await?
}

/// `run`: a pipeline step in a fresh worker that is thrown away afterwards; nothing survives
/// between calls. Admins and bots may run; the source is scanned every time. Its host calls
/// carry `run:NAME` as their module and `origin: "run"`, so it can never act under a loaded
/// module's name, and its key-value calls are answered from a store that lives for this run
/// only: a one-shot has no persistent state.
fn one_shot(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    name: &str,
    params: &Run,
) -> Result<Value, DaemonError> {
    let policy = state.policy();
    let (source, function) = (params.source.as_str(), params.function.as_str());
    let tier = tier_of(&policy, params.tier.as_deref())?;
    let label = format!("run:{name}");
    scan_or_reject(state, &policy, &label, source)?;
    // A one-shot gets its tier's host calls, as before manifests, but never storage kept by
    // pyward, config or schedules: those belong to loaded modules.
    let granted: BTreeSet<HostCall> = policy
        .host_calls(&tier)
        .into_iter()
        .filter(|c| {
            !matches!(
                c,
                HostCall::Config | HostCall::ScheduleAt | HostCall::CancelSchedule
            )
        })
        .collect();
    let (mut worker, _) = start_worker(state, name, source, &granted)?;
    let limits = &policy.sandbox;
    let deadline = Instant::now() + Duration::from_millis(limits.wall_ms);
    let args = params.args.clone();
    let route = Route::Caller(conn.clone());
    let event = params.event.clone();
    let mut relay = Relay {
        state,
        route: &route,
        origin: Origin::OneShot {
            label: &label,
            kv: BTreeMap::new(),
        },
        tier: &tier,
        granted: &granted,
        event: &event,
        calls: HostCalls::new(&label, &policy.budgets, policy.server.max_line_bytes),
    };
    // A one-shot's worker gets `null` as its event; its host calls carry the caller's.
    let (outcome, oom) = relay.call(
        &mut worker,
        &Target::Function(function.to_string()),
        Json::from_value(&args),
        Json::null(),
        deadline,
    );
    let verdict = verdict_of(&outcome, oom, limits);
    match settle(&label, &policy, outcome, verdict, relay.calls.bitten()) {
        Ok(answer) => Ok(answer),
        Err(Failure::Budget(exceeded)) => {
            let mut details = exceeded.details();
            details["module"] = json!(label);
            Err(state.refuse(DaemonError::Budget(exceeded), "budget_exceeded", details))
        }
        Err(Failure::Verdict(verdict)) => {
            if verdict.layer == Some(Layer::Module) {
                return Err(DaemonError::Verdict(verdict));
            }
            let details = json!({ "module": label, "verdict": verdict });
            Err(state.refuse(DaemonError::Verdict(verdict), "sandbox_event", details))
        }
    }
}
