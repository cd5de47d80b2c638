//! The protocol boundary: each method to its handler, with the role it needs.

use std::sync::Arc;

use pyward_policy::config::Role;
use serde_json::{Value, json};

use super::calls::call;
use super::connection::Conn;
use super::error::DaemonError;
use super::events::{deliver_event, forget_subscription, subscribe};
use super::grants::grant_from;
use super::one_shot::run_one_shot;
use super::params::param;
use super::registry::{
    approve, configure, describe, describe_pending, list_modules, load, not_found,
};
use super::reload::reload_policy;
use super::rpc::RpcError;
use super::state::{State, lock};

fn require_admin(role: Role, method: &str) -> Result<(), DaemonError> {
    if role == Role::Admin {
        Ok(())
    } else {
        Err(DaemonError::AdminOnly {
            method: method.to_string(),
        })
    }
}

/// A request's answer; its error, if any, as the client sees it (the one place a request's
/// [`DaemonError`] becomes an [`RpcError`]).
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
    match method {
        "module.load" => {
            require_admin(role, method)?;
            on_blocking_thread(state, params, load).await
        }
        "module.unload" => {
            require_admin(role, method)?;
            let name = param(&params, "name")?;
            let purge = match &params["purge"] {
                Value::Null => false,
                Value::Bool(b) => *b,
                _ => return Err(DaemonError::NotABool { param: "purge" }),
            };
            let mut modules = lock(&state.modules);
            let pending = lock(&state.store).pending(name).ok().flatten().is_some();
            if !modules.contains_key(name) && !pending && !purge {
                return Err(not_found(name));
            }
            // Not recorded, so not done: the module stays loaded if the disk refuses. Its
            // schedules and any version waiting for approval go with it; its storage, config
            // and approval stay for the next load unless `purge` says otherwise.
            state.audited("unloaded", json!({ "module": name, "purge": purge }), |s| {
                s.remove_module(name)?;
                s.remove_schedules(name)?;
                s.remove_pending(name)?;
                if purge {
                    s.purge(name)?;
                }
                Ok(())
            })?;
            modules.remove(name);
            drop(modules);
            forget_subscription(state, name);
            Ok(json!({ "unloaded": name, "purged": purge }))
        }
        "module.list" => Ok(Value::Array(list_modules(state))),
        "module.pending" => {
            require_admin(role, method)?;
            let pending = lock(&state.store).all_pending()?;
            Ok(Value::Array(
                pending
                    .into_iter()
                    .map(|(name, p)| describe_pending(state, &name, &p))
                    .collect(),
            ))
        }
        "module.approve" => {
            require_admin(role, method)?;
            on_blocking_thread(state, params, approve).await
        }
        "module.configure" => {
            require_admin(role, method)?;
            on_blocking_thread(state, params, configure).await
        }
        "module.event" => deliver_event(state, conn, &params).await,
        "host.subscribe" => subscribe(state, conn, &params),
        "health" => {
            let modules: Vec<Value> = lock(&state.modules).values().map(describe).collect();
            let cgroups = state.cgroups.as_ref().map(|c| c.support);
            Ok(json!({ "modules": modules, "machine": state.machine, "cgroups": cgroups }))
        }
        "policy.reload" => {
            require_admin(role, method)?;
            let state = state.clone();
            tokio::task::spawn_blocking(move || reload_policy(&state)).await?
        }
        "module.call" => call(state, conn, &params).await,
        "run" => run_one_shot(state, conn, params).await,
        "acl.grant" => {
            require_admin(role, method)?;
            let grant = grant_from(&params)?;
            state.audited("grant", json!({ "grant": grant }), |s| s.add_grant(&grant))?;
            lock(&state.grants).push(grant.clone());
            Ok(json!({ "granted": grant }))
        }
        "acl.revoke" => {
            require_admin(role, method)?;
            let grant = grant_from(&params)?;
            state.audited("revoke", json!({ "grant": grant }), |s| s.revoke(&grant))?;
            let mut grants = lock(&state.grants);
            let before = grants.len();
            grants.retain(|g| g.user != grant.user || g.target != grant.target);
            Ok(json!({ "revoked": before - grants.len() }))
        }
        "acl.list" => Ok(json!(*lock(&state.grants))),
        "audit.list" => {
            require_admin(role, method)?;
            let limit = params["limit"].as_u64().unwrap_or(100).min(10_000) as u32;
            Ok(lock(&state.store).audit_log(limit).map(Value::Array)?)
        }
        "quarantine.release" => {
            require_admin(role, method)?;
            let name = param(&params, "module")?;
            let mut modules = lock(&state.modules);
            let module = modules.get_mut(name).ok_or_else(|| not_found(name))?;
            let mut released = module.health.clone();
            released.release();
            state.audited("quarantine_released", json!({ "module": name }), |s| {
                s.save_health(name, &released)
            })?;
            module.health = released;
            Ok(describe(module))
        }
        other => Err(DaemonError::NoMethod {
            method: other.to_string(),
        }),
    }
}

/// Work that blocks (a worker to start, the database to write) on a blocking thread, so that
/// the connection's task and the others stay free meanwhile.
async fn on_blocking_thread(
    state: &Arc<State>,
    params: Value,
    work: fn(&Arc<State>, &Value) -> Result<Value, DaemonError>,
) -> Result<Value, DaemonError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || work(&state, &params)).await?
}
