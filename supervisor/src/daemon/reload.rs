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
                    source: module.source.into(),
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

#[cfg(test)]
mod tests {
    use pyward_policy::config::Role;

    use super::*;
    use crate::daemon::dispatch::dispatch;
    use crate::daemon::listen::role_of;
    use crate::daemon::quarantine::Health;
    use crate::daemon::store::StoredModule;
    use crate::daemon::testing::Daemon;

    const PLAIN: &str = "def f():\n    return 1\n";
    const PRINTS: &str = "def f():\n    print(1)\n";
    /// Asks for the `join` event: within the `trusted` tier, beyond the baseline.
    const JOINS: &str = "import pyward\npyward.manifest(events=[\"join\"])\n";

    /// The defaults, with a bot at uid 1000.
    const OLD: &str = "[[clients]]\nuid = 0\nrole = \"admin\"\n\
                       [[clients]]\nuid = 1000\nrole = \"bot\"\n";
    /// No more bot at uid 1000, no more `trusted` tier, `print` forbidden, one call a minute.
    const NEW: &str = "[[clients]]\nuid = 0\nrole = \"admin\"\n\
                       [tiers.community]\nhost_calls = [\"reply\", \"log\", \"kv_get\", \"kv_set\"]\n\
                       events = [\"message\"]\n\
                       [scan]\nforbidden_names = [\"eval\", \"print\"]\n\
                       [rate_limit]\ncalls_per_window = 1\n";

    fn policy(toml: &str) -> Policy {
        Policy::from_toml_str(toml, "new.toml").expect("a valid test policy")
    }

    #[test]
    fn a_module_that_still_passes_runs_with_the_new_baseline() {
        let Rescan::Keeps(caps) = rescan(&Policy::default(), "calc", PLAIN, "community") else {
            panic!("a plain module passes the defaults")
        };
        assert_eq!(caps.storage_kb, 64);
        let smaller = policy("[storage]\ndefault_kb = 8\n");
        let Rescan::Keeps(caps) = rescan(&smaller, "calc", PLAIN, "community") else {
            panic!("a smaller default quota does not unload it")
        };
        assert_eq!(caps.storage_kb, 8);
    }

    #[test]
    fn a_module_the_new_policy_rejects_is_unloaded_and_says_why() {
        let new = policy(NEW);
        assert_eq!(
            rescan(&new, "helper", PLAIN, "trusted"),
            Rescan::Unloads {
                findings: None,
                over: None
            },
            "its tier is gone"
        );
        let Rescan::Unloads { findings, over } = rescan(&new, "printer", PRINTS, "community")
        else {
            panic!("its source no longer scans")
        };
        assert_eq!(findings.unwrap()[0]["rule"], "forbidden-name");
        assert_eq!(over, Some(Vec::new()));
        assert!(matches!(
            rescan(&Policy::default(), "joiner", JOINS, "trusted"),
            Rescan::Keeps(_)
        ));
        let narrower = policy(
            "[tiers.community]\nhost_calls = [\"reply\"]\n\
             [tiers.trusted]\nhost_calls = [\"reply\"]\nevents = [\"message\"]\n",
        );
        let Rescan::Unloads { findings, over } = rescan(&narrower, "joiner", JOINS, "trusted")
        else {
            panic!("its tier no longer grants `join`")
        };
        assert_eq!(findings, None);
        assert!(over.is_some_and(|o| o.iter().any(|what| what.contains("join"))));
    }

    #[test]
    fn a_reload_unloads_what_no_longer_passes_and_drops_a_removed_client() {
        let d = Daemon::new(OLD);
        d.load("calc", PLAIN, "community");
        d.load("helper", PLAIN, "trusted");
        d.load("printer", PRINTS, "community");
        assert_eq!(role_of(&d.state.policy(), 1000, 1000), Some(Role::Bot));
        let mut unloaded = adopt_policy(&d.state, policy(NEW));
        unloaded.sort();
        assert_eq!(unloaded, ["helper", "printer"]);
        assert_eq!(
            lock(&d.state.modules).keys().collect::<Vec<_>>(),
            ["calc"],
            "the module that passes stays loaded"
        );
        let stored: Vec<String> = lock(&d.state.store)
            .modules()
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(
            stored,
            ["calc"],
            "the unloaded ones are gone from the store too"
        );
        assert_eq!(d.audited("unloaded_by_policy"), 2);
        let log = lock(&d.state.store).audit_log(10).unwrap();
        let record = |name: &str| {
            log.iter()
                .find(|r| r["event"] == "unloaded_by_policy" && r["module"] == name)
                .unwrap_or_else(|| panic!("no record for {name}"))
                .clone()
        };
        assert_eq!(record("helper")["findings"], Value::Null);
        assert_eq!(record("helper")["over"], Value::Null, "its tier is gone");
        assert_eq!(record("printer")["findings"][0]["rule"], "forbidden-name");
        // The uid the new policy no longer lists is refused at its next connection.
        assert_eq!(role_of(&d.state.policy(), 1000, 1000), None);
        assert_eq!(role_of(&d.state.policy(), 0, 0), Some(Role::Admin));
        // The new rate limit is in force.
        let mut limiter = lock(&d.state.limiter);
        assert!(limiter.try_acquire("@ann", "calc", now_ms()));
        assert!(!limiter.try_acquire("@ann", "calc", now_ms()));
    }

    #[tokio::test]
    async fn an_invalid_policy_file_changes_nothing() {
        let config = crate::daemon::testing::TempDir::new();
        let file = config.path().join("policy.toml");
        std::fs::write(&file, "[sandbox]\nmemory_mb = 1\n").unwrap();
        let d = Daemon::with_config(OLD, Some(file));
        d.load("helper", PLAIN, "trusted");
        let e = dispatch(&d.state, &d.conn, Role::Admin, "policy.reload", json!({}))
            .await
            .unwrap_err();
        assert_eq!(e.code, -32602, "{e:?}");
        assert_eq!(e.message, "the policy file is invalid; nothing changed");
        assert!(
            e.data["errors"][0]
                .as_str()
                .is_some_and(|s| s.contains("sandbox.memory_mb")),
            "{e:?}"
        );
        assert!(lock(&d.state.modules).contains_key("helper"));
        assert_eq!(role_of(&d.state.policy(), 1000, 1000), Some(Role::Bot));
        // Without --config there is no file to read again.
        let d = Daemon::new(OLD);
        let e = dispatch(&d.state, &d.conn, Role::Admin, "policy.reload", json!({}))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code, e.data["reason"].as_str()),
            (-32602, Some("bad_request"))
        );
    }

    #[test]
    fn stored_modules_that_no_longer_pass_are_not_reloaded() {
        let d = Daemon::new(NEW);
        let stored = |name: &str, source: &str, tier: &str| StoredModule {
            name: name.into(),
            tier: tier.into(),
            source: source.into(),
            health: Health::new(&d.state.policy().quarantine),
        };
        reload_modules(
            &d.state,
            vec![
                stored("printer", PRINTS, "community"),
                stored("helper", PLAIN, "trusted"),
                stored("joiner", JOINS, "community"),
            ],
        );
        assert!(lock(&d.state.modules).is_empty(), "no worker was started");
        assert_eq!(d.audited("reload_rejected"), 3);
        let log = lock(&d.state.store).audit_log(10).unwrap();
        let record = |name: &str| {
            log.iter()
                .find(|r| r["module"] == name)
                .unwrap_or_else(|| panic!("no record for {name}"))
                .clone()
        };
        assert_eq!(record("printer")["findings"][0]["rule"], "forbidden-name");
        assert_eq!(record("helper")["why"], "no trust tier `trusted`");
        // `join` is beyond what `community` grants now, and nothing was approved.
        assert_eq!(record("joiner")["approved"], false);
        assert!(
            record("joiner")["over"]
                .as_array()
                .is_some_and(|o| !o.is_empty())
        );
    }
}
