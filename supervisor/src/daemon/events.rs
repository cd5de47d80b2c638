//! Events and schedules: `host.subscribe` (which bot gets a module's event and schedule host
//! calls), `module.event` (a chat event delivered to every module that handles it), and
//! schedules that came due.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use pyward_worker::runtime::Target;
use serde_json::{Value, json};

use super::calls::{Invocation, execute, rate_limit};
use super::connection::Conn;
use super::error::DaemonError;
use super::params::{DeliverEvent, Subscribe};
use super::relay::Route;
use super::rpc::RpcError;
use super::state::{State, lock};
use super::vetting::check_name;

/// `host.subscribe`: this connection gets the host calls of the named modules' events and
/// schedules (`"modules": ["a", "b"]`, or `"*"` for every module), replacing any earlier
/// subscriber. It lasts as long as the connection.
pub(super) fn subscribe(
    state: &State,
    conn: &Arc<Conn>,
    params: Subscribe,
) -> Result<Value, DaemonError> {
    match params {
        Subscribe::All => {
            *lock(&state.subscribe_all) = Some(Arc::downgrade(conn));
            Ok(json!({ "subscribed": "*" }))
        }
        Subscribe::Modules(names) => {
            for name in &names {
                check_name(name)?;
            }
            let mut subscribers = lock(&state.subscribers);
            for name in &names {
                subscribers.insert(name.clone(), Arc::downgrade(conn));
            }
            Ok(json!({ "subscribed": names }))
        }
    }
}

pub(super) fn forget_subscription(state: &State, module: &str) {
    lock(&state.subscribers).remove(module);
}

/// The connected bot that gets a module's event and schedule host calls, if any.
pub(super) fn subscriber(state: &State, module: &str) -> Option<Arc<Conn>> {
    let live = |weak: &Weak<Conn>| weak.upgrade().filter(|c| !c.closed.load(Ordering::Relaxed));
    if let Some(conn) = lock(&state.subscribers).get(module).and_then(live) {
        return Some(conn);
    }
    lock(&state.subscribe_all).as_ref().and_then(live)
}

/// `module.event`: a chat event the bot forwards once; delivered to every loaded module whose
/// approved manifest asks for its type and that handles it, each under its own quarantine,
/// rate limit (per sender and module) and budgets, all at once. The answer says per module
/// what happened.
pub(super) async fn deliver_event(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    params: DeliverEvent,
) -> Result<Value, DaemonError> {
    let policy = state.policy();
    let DeliverEvent { event, kind } = params;
    let size = event.to_string().len();
    let max = policy.events.max_event_bytes;
    if size > max {
        return Err(DaemonError::EventTooLarge { size, max });
    }
    let user = event["sender"].as_str().unwrap_or("event").to_string();
    let targets: Vec<String> = {
        let modules = lock(&state.modules);
        let mut names: Vec<String> = modules
            .values()
            .filter(|m| m.caps.events.contains(&kind) && m.events.contains(&kind))
            .map(|m| m.name.clone())
            .collect();
        names.sort();
        names
    };
    let deliveries = targets.into_iter().map(|name| {
        let state = state.clone();
        let conn = conn.clone();
        let event = event.clone();
        let kind = kind.clone();
        let user = user.clone();
        let policy = policy.clone();
        async move {
            let outcome = match rate_limit(&state, &policy, &user, &name) {
                Err(e) => Err(e),
                Ok(()) => {
                    execute(
                        &state,
                        &name,
                        &user,
                        Invocation {
                            target: Target::Event(kind),
                            args: Value::Null,
                            event,
                            route: Route::Subscriber {
                                fallback: Some(conn),
                            },
                            kind: "event",
                        },
                    )
                    .await
                }
            };
            match outcome {
                Ok(answer) => json!({ "module": name, "ok": true, "result": answer["result"], "stdout": answer["stdout"] }),
                Err(error) => {
                    json!({ "module": name, "ok": false, "error": RpcError::from(error) })
                }
            }
        }
    });
    let delivered: Vec<Value> = futures_join_all(deliveries).await;
    Ok(json!({ "type": kind, "delivered": delivered }))
}

/// Run futures at once, their outputs in order (each in its own task).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<Value>
where
    F: std::future::Future<Output = Value> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(
            handle
                .await
                .unwrap_or_else(|e| json!({ "ok": false, "error": e.to_string() })),
        );
    }
    out
}

/// A schedule came due: run it in its module (if that is still loaded and not quarantined),
/// its host calls going to the module's subscribed bot. A failure counts against the module
/// like any failed call (health, audit); nothing waits for the answer.
pub(super) async fn fire(state: Arc<State>, due: super::store::Due) {
    let (target, args) = if due.periodic {
        (Target::Every(due.name.clone()), Value::Null)
    } else {
        let payload: Value = serde_json::from_str(&due.payload).unwrap_or(Value::Null);
        (Target::Function(due.name.clone()), json!([payload]))
    };
    let loaded = lock(&state.modules)
        .get(&due.module)
        .is_some_and(|m| m.caps.schedules);
    if !loaded {
        return;
    }
    let event = json!({
        "type": "schedule",
        "name": due.name,
        "periodic": due.periodic,
        "due_ms": due.due_ms,
    });
    let user = format!("schedule:{}", due.name);
    let outcome = execute(
        &state,
        &due.module,
        &user,
        Invocation {
            target,
            args,
            event,
            route: Route::Subscriber { fallback: None },
            kind: "schedule",
        },
    )
    .await;
    if let Err(error) = outcome {
        let error = RpcError::from(error);
        eprintln!(
            "{}",
            json!({ "event": "schedule_failed", "module": due.module, "name": due.name, "error": error })
        );
    }
}
