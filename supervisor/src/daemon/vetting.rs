//! What a module version must pass before it runs: a valid name, an existing tier, the scanner
//! and a statically readable manifest, capabilities within its tier, and declarations (events,
//! schedules) within its capabilities.

use pyward_policy::Policy;
use pyward_policy::manifest::{self, Capabilities, Manifest};
use pyward_policy::scan;
use pyward_worker::runtime::Loaded;
use serde_json::{Value, json};

use super::error::DaemonError;
use super::module_state;
use super::state::State;

/// Longest module (and one-shot) name, in characters.
pub(super) const MAX_NAME: usize = 64;

/// The trust tier a request names (or the policy's default), which must exist.
pub(super) fn tier_of(policy: &Policy, tier: Option<&str>) -> Result<String, DaemonError> {
    let tier = tier.unwrap_or(&policy.default_tier).to_string();
    if policy.tiers.contains_key(&tier) {
        Ok(tier)
    } else {
        Err(DaemonError::NoTier { tier })
    }
}

/// Scan a module's source and read its manifest; a rejection (by the scanner, or a manifest
/// that cannot be read statically) is audited and becomes the error the client sees.
pub(super) fn scan_or_reject(
    state: &State,
    policy: &Policy,
    name: &str,
    source: &str,
) -> Result<(scan::FileReport, Option<Manifest>), DaemonError> {
    let (report, manifest, findings) = scan_with_manifest(policy, name, source);
    if let Some(findings) = findings {
        let error = DaemonError::ScanRejected {
            module: name.to_string(),
            findings: findings.clone(),
        };
        return Err(state.refuse(
            error,
            "scan_rejected",
            json!({ "module": name, "findings": findings }),
        ));
    }
    Ok((report, manifest))
}

/// The scan and the manifest of a source; `Some(findings)` if it is rejected. The manifest is
/// read only from a source the scanner accepted (the scan bounds its nesting first).
pub(super) fn scan_with_manifest(
    policy: &Policy,
    name: &str,
    source: &str,
) -> (scan::FileReport, Option<Manifest>, Option<Value>) {
    let report = scan::scan_source(name, source.as_bytes(), &policy.scan);
    if !report.is_clean() && !policy.scan.dangerously_skip_scan {
        let findings = json!(report.findings);
        return (report, None, Some(findings));
    }
    let reading = if report.is_clean() {
        manifest::read_manifest(source)
    } else {
        manifest::ManifestReading::default()
    };
    if !reading.findings.is_empty() {
        let mut findings = json!(report.findings);
        if let Value::Array(list) = &mut findings {
            list.extend(reading.findings.iter().map(|f| json!(f)));
        }
        return (report, None, Some(findings));
    }
    (report, reading.manifest, None)
}

/// What a manifest asks for under `tier`, refused (audited) if the tier cannot grant it.
pub(super) fn capabilities_within_tier(
    state: &State,
    policy: &Policy,
    name: &str,
    tier: &str,
    manifest: Option<&Manifest>,
) -> Result<Capabilities, DaemonError> {
    let tier_def = &policy.tiers[tier];
    let requested = Capabilities::requested(manifest, policy, tier_def);
    let over = requested.beyond_tier(policy, tier, tier_def);
    if over.is_empty() {
        return Ok(requested);
    }
    let details = json!({ "module": name, "tier": tier, "over": over });
    let error = DaemonError::BeyondTier {
        module: name.to_string(),
        tier: tier.to_string(),
        over,
        requested: Box::new(requested),
    };
    Err(state.refuse(error, "capability_denied", details))
}

/// Module names (and one-shot names, which share the rule): what host calls, audit records and
/// the host's key-value scopes carry, so nothing that could be read as a path, a line or a
/// separator.
pub(super) fn check_name(name: &str) -> Result<(), DaemonError> {
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(DaemonError::BadName {
            name: name.to_string(),
        })
    }
}

/// What a loaded module declares at run time (`@pyward.on`, `@pyward.every`) must be within
/// its capabilities and the policy's schedule budgets. Returns its periodic schedules.
pub(super) fn check_declarations(
    name: &str,
    loaded: &Loaded,
    caps: &Capabilities,
    policy: &Policy,
) -> Result<Vec<(String, u64)>, DaemonError> {
    for event in &loaded.events {
        if !caps.events.contains(event) {
            return Err(DaemonError::UndeclaredEvent {
                module: name.to_string(),
                event: event.clone(),
            });
        }
    }
    if !loaded.periodic.is_empty() && !caps.schedules {
        return Err(DaemonError::SchedulesNotAsked {
            module: name.to_string(),
        });
    }
    module_state::periodic_schedules(name, &loaded.periodic, policy).map_err(DaemonError::Budget)
}

#[cfg(test)]
mod tests {
    use pyward_worker::runtime::PeriodicInfo;

    use super::*;
    use crate::daemon::rpc::RpcError;

    fn declaring(periodic: usize) -> Loaded {
        Loaded {
            commands: Vec::new(),
            stdout: String::new(),
            identifiers: Vec::new(),
            events: Vec::new(),
            periodic: (0..periodic)
                .map(|i| PeriodicInfo {
                    name: format!("tick{i}"),
                    seconds: 60,
                })
                .collect(),
        }
    }

    #[test]
    fn periodic_handlers_need_the_manifest_to_ask_for_schedules_then_fit_the_budget() {
        let policy = Policy::default();
        let asked = Capabilities {
            schedules: true,
            ..Capabilities::default()
        };
        let not_asked = Capabilities::default();
        // Without periodic handlers, nothing to ask for.
        assert_eq!(
            check_declarations("m", &declaring(0), &not_asked, &policy).unwrap(),
            Vec::new()
        );
        let e: RpcError = check_declarations("m", &declaring(1), &not_asked, &policy)
            .unwrap_err()
            .into();
        assert_eq!(e.data["reason"], "capability_denied", "{e:?}");
        assert_eq!(
            e.message,
            "module `m` declares @pyward.every handlers but its manifest does not ask for \
             schedules=True"
        );
        assert_eq!(
            check_declarations("m", &declaring(1), &asked, &policy).unwrap(),
            vec![("tick0".to_string(), 60_000)]
        );
        let over = policy.schedules.max_periodic_per_module + 1;
        let e: RpcError = check_declarations("m", &declaring(over), &asked, &policy)
            .unwrap_err()
            .into();
        assert_eq!(
            e.data["budget"], "schedules.max_periodic_per_module",
            "{e:?}"
        );
    }
}
