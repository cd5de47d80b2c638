//! The protocol boundary: each method to its handler, after the role check and with its
//! parameters read (`params`); the handler's [`DaemonError`] becomes the [`RpcError`] the
//! client sees here.

use std::sync::Arc;

use pyward_policy::config::Role;
use serde_json::Value;

use super::connection::Conn;
use super::error::DaemonError;
use super::params::{
    Approve, AuditList, Call, Configure, DeliverEvent, GrantRequest, Load, Release, Run, Subscribe,
    Unload,
};
use super::rpc::RpcError;
use super::state::State;
use super::{audit, calls, events, grants, one_shot, registry, reload};

/// The methods only an admin may call; a bot may call the others (docs/protocol.md, "Who may
/// connect").
const ADMIN_ONLY: &[&str] = &[
    "module.load",
    "module.unload",
    "module.pending",
    "module.approve",
    "module.configure",
    "policy.reload",
    "acl.grant",
    "acl.revoke",
    "audit.list",
    "quarantine.release",
];

/// May `role` call `method`? Checked before its parameters are read.
fn authorize(role: Role, method: &str) -> Result<(), DaemonError> {
    if role == Role::Admin || !ADMIN_ONLY.contains(&method) {
        Ok(())
    } else {
        Err(DaemonError::AdminOnly {
            method: method.to_string(),
        })
    }
}

/// A request's answer; its error, if any, as the client sees it.
pub(super) async fn dispatch(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    role: Role,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    handle(state, conn, role, method, params)
        .await
        .map_err(RpcError::from)
}

async fn handle(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    role: Role,
    method: &str,
    params: Value,
) -> Result<Value, DaemonError> {
    authorize(role, method)?;
    match method {
        "module.load" => on_blocking_thread(state, Load::parse(params)?, registry::load).await,
        "module.unload" => registry::unload(state, Unload::parse(params)?),
        "module.list" => Ok(Value::Array(registry::list_modules(state))),
        "module.pending" => registry::pending(state),
        "module.approve" => {
            on_blocking_thread(state, Approve::parse(params)?, registry::approve).await
        }
        "module.configure" => {
            on_blocking_thread(state, Configure::parse(params)?, registry::configure).await
        }
        "module.event" => events::deliver_event(state, conn, DeliverEvent::parse(params)?).await,
        "host.subscribe" => events::subscribe(state, conn, Subscribe::parse(params)?),
        "health" => Ok(registry::health(state)),
        "policy.reload" => {
            let state = state.clone();
            tokio::task::spawn_blocking(move || reload::reload_policy(&state)).await?
        }
        "module.call" => calls::call(state, conn, Call::parse(params)?).await,
        "run" => one_shot::run_one_shot(state, conn, Run::parse(params)?).await,
        "acl.grant" => grants::grant(state, GrantRequest::parse(params)?),
        "acl.revoke" => grants::revoke(state, GrantRequest::parse(params)?),
        "acl.list" => Ok(grants::list(state)),
        "audit.list" => audit::list(state, AuditList::parse(params)),
        "quarantine.release" => registry::release(state, Release::parse(params)?),
        other => Err(DaemonError::NoMethod {
            method: other.to_string(),
        }),
    }
}

/// Work that blocks (a worker to start, the database to write) on a blocking thread, so that
/// the connection's task and the others stay free meanwhile.
async fn on_blocking_thread<P: Send + 'static>(
    state: &Arc<State>,
    params: P,
    work: fn(&Arc<State>, P) -> Result<Value, DaemonError>,
) -> Result<Value, DaemonError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || work(&state, params)).await?
}
