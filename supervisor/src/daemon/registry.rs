//! The module registry: load, approve, configure, and what `module.list`, `module.pending` and
//! `health` say about each module.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use pyward_policy::Policy;
use pyward_policy::manifest::Capabilities;
use pyward_policy::scan;
use serde_json::{Value, json};

use super::audit::audit_record;
use super::error::DaemonError;
use super::events::forget_subscription;
use super::params::{Approve, Configure, Load, Release, Unload};
use super::quarantine::Health;
use super::state::{Module, State, lock, now_ms, now_secs};
use super::store::{Pending, Store};
use super::vetting::{
    capabilities_within_tier, check_declarations, check_name, scan_or_reject, tier_of,
};
use super::workers::start_worker;

pub(super) fn not_found(name: &str) -> DaemonError {
    DaemonError::NotLoaded {
        module: name.to_string(),
    }
}

fn describe(m: &Module) -> Value {
    // A worker busy with a call is not waited for.
    let worker = match m.worker.try_lock() {
        Ok(slot) => slot.as_ref().map_or(json!(null), |w| {
            json!({ "pid": w.process.pid(), "cgroup": w.cgroup.as_ref().map(|c| c.path().display().to_string()) })
        }),
        Err(_) => json!("busy"),
    };
    json!({
        "name": m.name,
        "worker": worker,
        "tier": m.tier,
        "commands": m.commands,
        "capabilities": m.caps,
        "events": m.events,
        "periodic": m.periodic,
        "calls": m.calls,
        "health": m.health,
    })
}

/// `module.unload`: the module's worker is stopped and it is forgotten. Not recorded, so not
/// done: the module stays loaded if the disk refuses. Its schedules and any version waiting for
/// approval go with it; its storage, config and approval stay for the next load unless
/// `purge` says otherwise.
pub(super) fn unload(state: &State, params: Unload) -> Result<Value, DaemonError> {
    let Unload { name, purge } = params;
    let name = name.as_str();
    let mut modules = lock(&state.modules);
    let pending = lock(&state.store).pending(name).ok().flatten().is_some();
    if !modules.contains_key(name) && !pending && !purge {
        return Err(not_found(name));
    }
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

/// `quarantine.release`: the module may be called again, its failures forgotten.
pub(super) fn release(state: &State, params: Release) -> Result<Value, DaemonError> {
    let name = params.module.as_str();
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

/// `health`: every loaded module, and what this machine enforces.
pub(super) fn health(state: &State) -> Value {
    let modules: Vec<Value> = lock(&state.modules).values().map(describe).collect();
    let cgroups = state.cgroups.as_ref().map(|c| c.support);
    json!({ "modules": modules, "machine": state.machine, "cgroups": cgroups })
}

/// `module.list`: each loaded module, with what is kept for it (its config, secret values
/// shown only as `{"secret": true}`; its storage use; a version waiting for approval).
pub(super) fn list_modules(state: &State) -> Vec<Value> {
    let mut entries: Vec<Value> = lock(&state.modules).values().map(describe).collect();
    let store = lock(&state.store);
    for entry in &mut entries {
        let name = entry["name"].as_str().unwrap_or_default().to_string();
        entry["config"] = config_view(&store, &name);
        if let Ok((keys, bytes)) = store.kv_usage(&name) {
            entry["storage"] = json!({ "keys": keys, "bytes": bytes });
        }
        if let Ok(one_offs) = store.pending_one_offs(&name) {
            entry["scheduled"] = one_offs
                .into_iter()
                .map(|(name, at_ms)| json!({ "name": name, "at_ms": at_ms }))
                .collect();
        }
        if let Ok(Some(a)) = store.approval(&name) {
            entry["approved"] = json!({
                "source_sha256": a.source_sha256,
                "capabilities": a.capabilities,
            });
        }
        if let Ok(Some(p)) = store.pending(&name) {
            entry["pending"] = json!({
                "source_sha256": p.source_sha256,
                "requested": p.requested,
            });
        }
    }
    entries
}

/// A module's config as `module.list` shows it: values, except secret ones.
fn config_view(store: &Store, module: &str) -> Value {
    let mut view = serde_json::Map::new();
    for (key, value, secret) in store.config_list(module).unwrap_or_default() {
        let shown = if secret {
            json!({ "secret": true })
        } else {
            json!({ "value": serde_json::from_str::<Value>(&value).unwrap_or(Value::Null) })
        };
        view.insert(key, shown);
    }
    Value::Object(view)
}

/// `module.pending`: every version waiting for approval, with what it would widen.
pub(super) fn pending(state: &State) -> Result<Value, DaemonError> {
    let pending = lock(&state.store).all_pending()?;
    Ok(Value::Array(
        pending
            .into_iter()
            .map(|(name, p)| describe_pending(state, &name, &p))
            .collect(),
    ))
}

fn describe_pending(state: &State, name: &str, p: &Pending) -> Value {
    let running = lock(&state.modules).get(name).map(|m| m.caps.clone());
    let widening = match &running {
        Some(caps) => p.requested.widening_over(caps),
        None => Vec::new(),
    };
    json!({
        "name": name,
        "tier": p.tier,
        "source_sha256": p.source_sha256,
        "requested": p.requested,
        "running": running,
        "widening": widening,
    })
}

/// How a module version came to be allowed to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    /// It asks for nothing beyond the baseline (what every module gets).
    Baseline,
    /// It asks for nothing beyond what an admin approved for this module before.
    PreviouslyApproved,
    /// An admin approves it now (`approve: true`, or `module.approve`).
    ApprovedNow,
}

impl Allowed {
    fn name(self) -> &'static str {
        match self {
            Allowed::Baseline => "baseline",
            Allowed::PreviouslyApproved => "previously_approved",
            Allowed::ApprovedNow => "approved_now",
        }
    }
}

/// `module.load`: scan, read the manifest, check it against the tier and what was approved.
/// A version that asks for more than the baseline and any earlier approval waits for an admin
/// (`module.approve`) unless `approve: true`, while an older version keeps running. Blocking.
pub(super) fn load(state: &Arc<State>, params: Load) -> Result<Value, DaemonError> {
    let policy = state.policy();
    let Load {
        name,
        source,
        tier,
        approve,
    } = params;
    check_name(&name)?;
    let tier = tier_of(&policy, tier.as_deref())?;
    let (report, manifest) = scan_or_reject(state, &policy, &name, &source)?;
    let requested = capabilities_within_tier(state, &policy, &name, &tier, manifest.as_ref())?;
    let baseline = Capabilities::baseline(&policy, &policy.tiers[&tier]);
    let approved = lock(&state.store).approval(&name)?.map(|a| a.capabilities);
    let allowed = if approve {
        Allowed::ApprovedNow
    } else if requested.within(&baseline) {
        Allowed::Baseline
    } else if approved.as_ref().is_some_and(|a| requested.within(a)) {
        Allowed::PreviouslyApproved
    } else {
        // Wait for an admin; what runs now (if anything) keeps running.
        let sha = scan::sha256_hex(source.as_bytes());
        let widening = requested.widening_over(approved.as_ref().unwrap_or(&baseline));
        let pending = Pending {
            tier: tier.clone(),
            source,
            source_sha256: sha.clone(),
            requested: requested.clone(),
        };
        state.audited(
            "approval_requested",
            json!({ "module": name, "tier": tier, "source_sha256": sha, "requested": requested, "widening": widening }),
            |s| s.save_pending(&name, &pending, now_secs()),
        )?;
        let running = lock(&state.modules).contains_key(&name);
        return Ok(json!({
            "name": name,
            "pending_approval": true,
            "running": running,
            "source_sha256": sha,
            "requested": requested,
            "widening": widening,
            "scan": { "verdict": report.verdict, "findings": report.findings },
        }));
    };
    let mut answer = install(state, &policy, &name, &source, &tier, requested, allowed)?;
    answer["scan"] = json!({ "verdict": report.verdict, "findings": report.findings });
    Ok(answer)
}

/// `module.approve`: run the version waiting for approval (its hash may be given, so that an
/// admin approves exactly what they reviewed), and remember what it was granted.
pub(super) fn approve(state: &Arc<State>, params: Approve) -> Result<Value, DaemonError> {
    let policy = state.policy();
    let Approve {
        name,
        source_sha256,
    } = params;
    let Some(pending) = lock(&state.store).pending(&name)? else {
        return Err(DaemonError::NothingPending { module: name });
    };
    if let Some(sha) = source_sha256
        && sha != pending.source_sha256
    {
        return Err(DaemonError::ChangedSinceReview {
            module: name,
            pending: pending.source_sha256,
            given: sha,
        });
    }
    if !policy.tiers.contains_key(&pending.tier) {
        return Err(DaemonError::NoTier { tier: pending.tier });
    }
    // Checked again: the policy may have changed since it was asked for.
    let (_, manifest) = scan_or_reject(state, &policy, &name, &pending.source)?;
    let requested =
        capabilities_within_tier(state, &policy, &name, &pending.tier, manifest.as_ref())?;
    install(
        state,
        &policy,
        &name,
        &pending.source,
        &pending.tier,
        requested,
        Allowed::ApprovedNow,
    )
}

/// Start a worker for an allowed version, check what it declares against its capabilities,
/// then record it (module, approval, periodic schedules, and the audit records: one
/// transaction) and make it the running version. Blocking. `policy` is the snapshot the caller
/// checked the tier against: a reload in between cannot make the tier vanish under it.
fn install(
    state: &Arc<State>,
    policy: &Policy,
    name: &str,
    source: &str,
    tier: &str,
    caps: Capabilities,
    allowed: Allowed,
) -> Result<Value, DaemonError> {
    let granted = caps.granted_calls(&policy.tiers[tier]);
    let (worker, loaded) = start_worker(state, name, source, &granted)?;
    let periodic = check_declarations(name, &loaded, &caps, policy)?;
    let health = Health::new(&policy.quarantine);
    let scan_json = json!({ "verdict": "clean" });
    let sha = scan::sha256_hex(source.as_bytes());
    let record = json!({ "module": name, "tier": tier, "source_sha256": sha, "capabilities": caps, "allowed": allowed.name() });
    let (time, approval_record) = audit_record(
        "approved",
        json!({ "module": name, "tier": tier, "source_sha256": sha, "capabilities": caps }),
    );
    state.audited("loaded", record, |s| {
        s.save_module(name, tier, source, &scan_json, &health, now_secs())?;
        s.sync_periodic(name, &periodic, now_ms())?;
        if allowed == Allowed::ApprovedNow {
            s.save_approval(name, &caps, &sha, now_secs())?;
            s.remove_pending(name)?;
            s.audit(time, "approved", &approval_record)?;
        } else if allowed == Allowed::Baseline || allowed == Allowed::PreviouslyApproved {
            // A narrower version replaces one that waited to widen: nothing waits any more.
            s.remove_pending(name)?;
        }
        Ok(())
    })?;
    if allowed == Allowed::ApprovedNow {
        eprintln!("{approval_record}");
    }
    let module = Module {
        name: name.to_string(),
        tier: tier.to_string(),
        source: source.into(),
        commands: loaded.commands.clone(),
        caps: caps.clone(),
        events: loaded.events.clone(),
        periodic: loaded.periodic.clone(),
        health,
        calls: 0,
        worker: Arc::new(Mutex::new(Some(worker))),
    };
    lock(&state.modules).insert(name.to_string(), module);
    Ok(json!({
        "name": name,
        "commands": loaded.commands,
        "capabilities": caps,
        "events": loaded.events,
        "periodic": loaded.periodic,
        "approval": allowed.name(),
        "source_sha256": sha,
    }))
}

/// `module.configure`: set (or, with `null`, remove) config values of a module, each key one
/// its manifest (running or waiting for approval) declares. Keys listed in `secret` are never
/// shown again: not by `module.list`, not in audit records or logs.
pub(super) fn configure(state: &Arc<State>, params: Configure) -> Result<Value, DaemonError> {
    let policy = state.policy();
    let Configure {
        name,
        values,
        secret,
    } = params;
    let mut declared: BTreeSet<String> = lock(&state.modules)
        .get(&name)
        .map(|m| m.caps.config.clone())
        .unwrap_or_default();
    let pending = lock(&state.store).pending(&name)?;
    let known = lock(&state.modules).contains_key(&name) || pending.is_some();
    if let Some(p) = pending {
        declared.extend(p.requested.config);
    }
    if !known {
        return Err(not_found(&name));
    }
    let mut changes = Vec::new();
    for (key, value) in &values {
        if !declared.contains(key) {
            return Err(DaemonError::UndeclaredConfigKey {
                module: name,
                key: key.clone(),
                declared: declared.into_iter().collect(),
            });
        }
        let text = (!value.is_null()).then(|| value.to_string());
        if let Some(text) = &text
            && text.len() > policy.module_config.max_value_bytes
        {
            return Err(DaemonError::ConfigValueTooLarge {
                key: key.clone(),
                size: text.len(),
                max: policy.module_config.max_value_bytes,
            });
        }
        changes.push((key.clone(), text, secret.contains(key)));
    }
    if let Some(stray) = secret.iter().find(|k| !values.contains_key(*k)) {
        return Err(DaemonError::SecretWithoutValue { key: stray.clone() });
    }
    // The record names keys, never values.
    let set: Vec<&str> = changes
        .iter()
        .filter(|c| c.1.is_some())
        .map(|c| c.0.as_str())
        .collect();
    let removed: Vec<&str> = changes
        .iter()
        .filter(|c| c.1.is_none())
        .map(|c| c.0.as_str())
        .collect();
    state.audited(
        "configured",
        json!({ "module": name, "set": set, "removed": removed, "secret": secret }),
        |s| {
            for (key, value, secret) in &changes {
                s.config_set(&name, key, value.as_deref(), *secret)?;
            }
            Ok(())
        },
    )?;
    Ok(json!({ "name": name, "config": config_view(&lock(&state.store), &name) }))
}
