//! The host-call relay: a worker's host call is counted against its call's budgets, checked
//! against the approved manifest and the tier again, then answered by pyward itself (storage,
//! config, schedules, brokered HTTP) or sent to the bot as a `host.call` request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pyward_policy::config::HostCall;
use pyward_policy::manifest::Capabilities;
use pyward_worker::cgroup::WorkerCgroup;
use pyward_worker::link::{HostCallError, Json};
use pyward_worker::process::WorkerFailure;
use pyward_worker::runtime::{CallOutcome, Target};
use serde_json::{Value, json};

use super::budget::{Exceeded, HostCalls};
use super::connection::Conn;
use super::events::subscriber;
use super::module_state;
use super::rpc;
use super::state::{State, Worker, lock, now_ms};

/// How long the supervisor waits for the host to answer one host call (docs/protocol.md tells
/// bots so): a bot answers in milliseconds, and one that has not answered by then is taken to
/// have lost the call; the module's `sandbox.wall_ms` deadline still bounds the whole call.
const HOST_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a host call of an event or schedule looks again for a subscribed bot, within
/// `schedules.subscriber_wait_ms`.
const SUBSCRIBER_POLL: Duration = Duration::from_millis(20);

/// Where a call's host calls go.
#[derive(Clone)]
pub(super) enum Route {
    /// The connection that made the call (`module.call`).
    Caller(Arc<Conn>),
    /// The bot that subscribed for the module (`host.subscribe`); while none has, the
    /// connection that forwarded the event (if any), else wait up to
    /// `schedules.subscriber_wait_ms` for one.
    Subscriber { fallback: Option<Arc<Conn>> },
}

/// A call whose budget just bit is stopped where it is: its worker is killed (the next call
/// gets a fresh one), so a module that catches the refusal cannot go on looping. The call then
/// fails with the budget's error.
fn stop_if_over_budget(calls: &mut HostCalls, pid: libc::pid_t) {
    if calls.must_stop() {
        let _ = pyward_worker::sys::kill(pid, libc::SIGKILL);
    }
}

/// Everything [`relay`] needs besides the host call itself: where a call's host calls go, who
/// makes them, under which grants, and the call's host-call budgets.
pub(super) struct Relay<'a> {
    pub(super) state: &'a State,
    pub(super) route: &'a Route,
    pub(super) origin: Origin<'a>,
    pub(super) tier: &'a str,
    pub(super) granted: &'a BTreeSet<HostCall>,
    pub(super) event: &'a Value,
    pub(super) calls: HostCalls,
}

impl Relay<'_> {
    /// Run `target` in `worker`, relaying each of its host calls; a budget that bites stops the
    /// worker where it is. How the call ended, and whether the worker's cgroup OOM-killed it.
    pub(super) fn call(
        &mut self,
        worker: &mut Worker,
        target: &Target,
        args: Json,
        event: Json,
        deadline: Instant,
    ) -> (Result<CallOutcome, WorkerFailure>, bool) {
        let pid = worker.process.pid();
        let outcome = worker.process.call(
            target,
            args,
            event,
            deadline,
            &mut |call, args_json: Json| {
                let answer = relay(
                    self.state,
                    self.route,
                    &mut self.origin,
                    self.tier,
                    self.granted,
                    self.event,
                    &mut self.calls,
                    call,
                    &args_json,
                );
                stop_if_over_budget(&mut self.calls, pid);
                answer
            },
        );
        let oom = worker.cgroup.as_ref().is_some_and(WorkerCgroup::oom_killed);
        (outcome, oom)
    }
}

/// Who makes a host call.
pub(super) enum Origin<'a> {
    /// A loaded module, with what it runs with; `kind` is the `origin` its host calls carry
    /// (`module`, `event`, `schedule`).
    Module {
        name: &'a str,
        caps: &'a Capabilities,
        kind: &'static str,
    },
    /// A one-shot run (`run:NAME`): its key-value calls never reach the host.
    OneShot {
        label: &'a str,
        kv: BTreeMap<String, Value>,
    },
}

impl Origin<'_> {
    /// The `module` a `host.call` carries.
    fn label(&self) -> &str {
        match self {
            Origin::Module { name, .. } => name,
            Origin::OneShot { label, .. } => label,
        }
    }

    /// The `origin` a `host.call` carries.
    fn kind(&self) -> &'static str {
        match self {
            Origin::Module { kind, .. } => kind,
            Origin::OneShot { .. } => "run",
        }
    }
}

/// A host call from the worker: counted against the call's budgets, checked against the
/// approved manifest and the tier again, then answered by pyward itself (storage, config,
/// schedules) or sent to the bot as a `host.call` request (the calling connection, or the
/// module's subscribed bot for events and schedules); the worker waits for the answer.
#[allow(clippy::too_many_arguments)]
fn relay(
    state: &State,
    route: &Route,
    origin: &mut Origin<'_>,
    tier: &str,
    granted: &BTreeSet<HostCall>,
    event: &Value,
    calls: &mut HostCalls,
    call: HostCall,
    args_json: &Json,
) -> Result<Json, HostCallError> {
    let name = call.name();
    calls.admit(call, args_json.get())?;
    if !granted.contains(&call) {
        // Audited once per call: a module refused in a loop writes one record, not thousands.
        if calls.first_denial() {
            state.audit(
                "host_call_denied",
                json!({ "module": origin.label(), "call": name }),
            );
        }
        return Err(HostCallError::denied(format!(
            "host call `{name}` is not granted to this module (its approved manifest and its \
             tier)"
        )));
    }
    let args: Value = serde_json::from_str(args_json.get())
        .map_err(|e| HostCallError::failed(format!("bad arguments: {e}")))?;
    if call == HostCall::HttpRequest {
        // Only a loaded module has an approved manifest naming the hosts it may reach.
        let approved = match origin {
            Origin::Module { caps, .. } => Some(&caps.http),
            _ => None,
        };
        return http_request(state, tier, origin.label(), approved, calls, &args);
    }
    match origin {
        Origin::OneShot { kv, .. } if call.is_storage() => {
            return Ok(Json::from_value(&module_state::kv_in_memory(
                kv, call, &args,
            )));
        }
        Origin::Module { name, caps, .. }
            if call.is_storage()
                || matches!(
                    call,
                    HostCall::Config | HostCall::ScheduleAt | HostCall::CancelSchedule
                ) =>
        {
            let policy = state.policy();
            return match module_state::answer(
                &state.store,
                &policy,
                name,
                caps,
                call,
                &args,
                now_ms(),
            ) {
                Ok(value) => Ok(Json::from_value(&value)),
                Err(module_state::Refusal::Budget(exceeded)) => Err(calls.refuse_soft(exceeded)),
                Err(module_state::Refusal::Invalid(why)) => {
                    Err(HostCallError::Invalid { message: why })
                }
                Err(module_state::Refusal::Denied(why)) => {
                    if calls.first_denial() {
                        state.audit(
                            "host_call_denied",
                            json!({ "module": *name, "call": call.name(), "why": why }),
                        );
                    }
                    Err(HostCallError::denied(why))
                }
                Err(module_state::Refusal::Internal(why)) => Err(HostCallError::failed(why)),
            };
        }
        _ => {}
    }
    if call == HostCall::SendFile {
        let policy = state.policy();
        let max = policy.media.max_file_bytes;
        let encoded = args["data"].as_str().unwrap_or_default().len();
        let size = encoded / 4 * 3;
        if size > max + 2 {
            return Err(calls.refuse_soft(Exceeded {
                budget: "media.max_file_bytes",
                limit: max as u64,
                message: format!(
                    "module `{}` tried to send a file of about {size} bytes, over \
                     media.max_file_bytes ({max}); nothing was sent",
                    origin.label()
                ),
            }));
        }
    }
    let conn = match route {
        Route::Caller(conn) => conn.clone(),
        Route::Subscriber { fallback } => {
            let policy = state.policy();
            let module = origin.label().to_string();
            let wait = Duration::from_millis(policy.schedules.subscriber_wait_ms);
            let until = Instant::now() + wait;
            loop {
                if let Some(conn) = subscriber(state, &module).or_else(|| {
                    fallback
                        .clone()
                        .filter(|c| !c.closed.load(Ordering::Relaxed))
                }) {
                    break conn;
                }
                if Instant::now() >= until {
                    return Err(HostCallError::failed(format!(
                        "no bot is subscribed to module `{module}` (host.subscribe); waited {} ms \
                         (schedules.subscriber_wait_ms)",
                        wait.as_millis()
                    )));
                }
                std::thread::sleep(SUBSCRIBER_POLL);
            }
        }
    };
    let id = format!("h{}", conn.next_id.fetch_add(1, Ordering::Relaxed));
    let request = rpc::request(
        &id,
        "host.call",
        json!({ "module": origin.label(), "origin": origin.kind(), "call": call.name(), "args": args, "event": event }),
    );
    if request.len() > conn.max_line {
        return Err(calls.line_too_long(name, request.len()));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    lock(&conn.pending).insert(id.clone(), tx);
    let gone = || {
        lock(&conn.pending).remove(&id);
        HostCallError::failed("the host disconnected")
    };
    if conn.closed.load(Ordering::Relaxed) {
        return Err(gone());
    }
    match conn.out.try_send(request) {
        Ok(()) => {}
        Err(false) => return Err(gone()),
        Err(true) => {
            lock(&conn.pending).remove(&id);
            return Err(HostCallError::failed(format!(
                "the host is not reading its connection: {} bytes of answers wait for it \
                 (server.max_queued_bytes_per_connection)",
                conn.out.queued()
            )));
        }
    }
    match rx.recv_timeout(HOST_CALL_TIMEOUT) {
        // The bot's `error` is its failure, whatever its message says (docs/protocol.md).
        Ok(answer) => answer
            .map(|value| Json::from_value(&value))
            .map_err(HostCallError::failed),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(gone()),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            lock(&conn.pending).remove(&id);
            Err(HostCallError::failed(format!(
                "the host did not answer host call `{name}` within {} s",
                HOST_CALL_TIMEOUT.as_secs()
            )))
        }
    }
}

/// `http_request` is performed by the supervisor's broker (`http.rs`), never relayed to the
/// host; each request, refused or not, is audited.
fn http_request(
    state: &State,
    tier: &str,
    module: &str,
    approved: Option<&BTreeSet<String>>,
    calls: &mut HostCalls,
    args: &Value,
) -> Result<Json, HostCallError> {
    let policy = state.policy();
    let made = calls.count_http_request();
    let (answer, audit) = state
        .http
        .request_blocking(&policy, tier, module, approved, made, args);
    state.audit(audit.event, audit.details);
    answer
}
