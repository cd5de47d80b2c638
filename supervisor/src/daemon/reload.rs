//! Modules checked again under a policy: `policy.reload` (and SIGHUP), and the reload of stored
//! modules when the supervisor starts.

use std::sync::{Arc, Mutex};

use pyward_policy::Policy;
use pyward_policy::manifest::Capabilities;
use serde_json::{Value, json};

use super::error::DaemonError;
use super::peers::Refusals;
use super::rate_limit::RateLimiter;
use super::rpc::RpcError;
use super::state::{Module, State, lock, now_ms};
use super::vetting::{check_declarations, scan_with_manifest};
use super::workers::{restart_zygote, start_worker};

/// `policy.reload`: read and validate the file again. If it is valid, every worker is stopped
/// (through the old zygote), a new zygote starts with the new settings, the rate limiter takes
/// the new limits, and loaded modules are scanned again: any the new rules reject is unloaded.
/// If it is not valid, nothing changes and the errors are returned.
pub(super) fn reload_policy(state: &Arc<State>) -> Result<Value, DaemonError> {
    let Some(path) = state.config.clone() else {
        return Err(DaemonError::NoPolicyFile);
    };
    let new = Policy::load(&path).map_err(|errors| DaemonError::InvalidPolicy {
        errors: errors.iter().map(ToString::to_string).collect(),
    })?;
    let workers: Vec<_> = lock(&state.modules)
        .values()
        .map(|m| m.worker.clone())
        .collect();
    for worker in workers {
        // Dropping the process kills it and reaps it through the zygote that forked it.
        drop(lock(&worker).take());
    }
    restart_zygote(state).map_err(DaemonError::ZygoteStart)?;
    let unloaded = adopt_policy(state, new);
    state.audit(
        "policy_reloaded",
        json!({ "file": path.display().to_string(), "unloaded": unloaded }),
    );
    Ok(json!({ "reloaded": path.display().to_string(), "unloaded": unloaded }))
}

/// Put a new policy in force: the rate limiter takes its limits, refusals its window, and every
/// loaded module is checked under it again ([`rescan`]); those that no longer pass are
/// unloaded (audited `unloaded_by_policy`). Returns their names.
fn adopt_policy(state: &State, new: Policy) -> Vec<String> {
    *lock(&state.limiter) = RateLimiter::new(
        new.rate_limit.calls_per_window,
        new.rate_limit.window_seconds,
    );
    *state.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
    let policy = state.policy();
    // A new refusal window: what the old windows counted is written first.
    let window = policy.server.refused_audit_window_seconds;
    let counted = {
        let mut refusals = lock(&state.refusals);
        if refusals.window_seconds() == window {
            Vec::new()
        } else {
            std::mem::replace(&mut *refusals, Refusals::new(window)).drain()
        }
    };
    state.audit_refusals(counted);
    let mut unloaded = Vec::new();
    let mut modules = lock(&state.modules);
    let names: Vec<String> = modules.keys().cloned().collect();
    for name in names {
        let module = &modules[&name];
        match rescan(&policy, &name, &module.source, &module.tier) {
            // Absent keys follow the new policy's baseline (storage.default_kb, say).
            Rescan::Keeps(caps) => {
                if let Some(m) = modules.get_mut(&name) {
                    m.caps = caps;
                }
            }
            Rescan::Unloads { findings, over } => {
                // If the disk refuses the record, the module is still gone from memory; the
                // stored copy is scanned again, and refused again, at the next start.
                let _ = state.audited(
                    "unloaded_by_policy",
                    json!({ "module": name, "findings": findings, "over": over }),
                    |s| {
                        s.remove_module(&name)?;
                        s.remove_schedules(&name)
                    },
                );
                modules.remove(&name);
                unloaded.push(name);
            }
        }
    }
    unloaded
}

/// A loaded module under a (new) policy.
#[derive(Debug, PartialEq)]
enum Rescan {
    /// It still passes; it runs with these capabilities from now on.
    Keeps(Capabilities),
    /// The scanner now rejects it (`findings`), or its tier is gone (`over: None`) or can no
    /// longer grant what it asks for (`over`).
    Unloads {
        findings: Option<Value>,
        over: Option<Vec<String>>,
    },
}

/// Scan a loaded module's source again and check what it asks for against its tier.
fn rescan(policy: &Policy, name: &str, source: &str, tier: &str) -> Rescan {
    let (_, manifest, rejected) = scan_with_manifest(policy, name, source);
    // What it runs with must still be within its tier: a narrower tier unloads it.
    let requested = policy
        .tiers
        .get(tier)
        .map(|def| (Capabilities::requested(manifest.as_ref(), policy, def), def));
    let over = requested
        .as_ref()
        .map(|(caps, def)| caps.beyond_tier(policy, tier, def));
    match (rejected, over, requested) {
        (None, Some(over), Some((caps, _))) if over.is_empty() => Rescan::Keeps(caps),
        (findings, over, _) => Rescan::Unloads { findings, over },
    }
}

pub(super) fn reload_modules(state: &Arc<State>, stored: Vec<super::store::StoredModule>) {
    let policy = state.policy();
    for module in stored {
        let (_, manifest, rejected) = scan_with_manifest(&policy, &module.name, &module.source);
        if let Some(findings) = rejected {
            state.audit(
                "reload_rejected",
                json!({ "module": module.name, "findings": findings }),
            );
            continue;
        }
        let Some(tier) = policy.tiers.get(&module.tier) else {
            state.audit(
                "reload_rejected",
                json!({ "module": module.name, "why": format!("no trust tier `{}`", module.tier) }),
            );
            continue;
        };
        // Within the tier, and within what was approved (or the baseline), as at its load.
        let caps = Capabilities::requested(manifest.as_ref(), &policy, tier);
        let over = caps.beyond_tier(&policy, &module.tier, tier);
        let approved = lock(&state.store)
            .approval(&module.name)
            .ok()
            .flatten()
            .map(|a| a.capabilities);
        let allowed = caps.within(&Capabilities::baseline(&policy, tier))
            || approved.as_ref().is_some_and(|a| caps.within(a));
        if !over.is_empty() || !allowed {
            state.audit(
                "reload_rejected",
                json!({ "module": module.name, "over": over, "approved": allowed }),
            );
            continue;
        }
        let started = start_worker(
            state,
            &module.name,
            &module.source,
            &caps.granted_calls(tier),
        )
        .and_then(|(worker, loaded)| {
            check_declarations(&module.name, &loaded, &caps, &policy)
                .map(|periodic| (worker, loaded, periodic))
        });
        match started {
            Ok((worker, loaded, periodic)) => {
                if let Err(e) = lock(&state.store).sync_periodic(&module.name, &periodic, now_ms())
                {
                    eprintln!(
                        "{}",
                        json!({ "event": "schedule_failed", "module": module.name, "error": e.to_string() })
                    );
                }
                let entry = Module {
                    name: module.name.clone(),
                    tier: module.tier,
                    source: module.source,
                    commands: loaded.commands,
                    caps,
                    events: loaded.events,
                    periodic: loaded.periodic,
                    health: module.health,
                    calls: 0,
                    worker: Arc::new(Mutex::new(Some(worker))),
                };
                lock(&state.modules).insert(module.name, entry);
            }
            // The record keeps the error as a client would have seen it.
            Err(e) => state.audit(
                "reload_failed",
                json!({ "module": module.name, "error": RpcError::from(e) }),
            ),
        }
    }
}
