//! Persistent workers: forked by the zygote (restarted if it died), joined to a per-worker
//! cgroup where the machine delegates them, and given their module to load.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use pyward_policy::config::HostCall;
use pyward_policy::scan;
use pyward_worker::runtime::Loaded;
use pyward_worker::verdict;
use pyward_worker::zygote::{self, ZygoteClient};
use serde_json::json;

use super::budget;
use super::error::DaemonError;
use super::state::{State, Worker, lock};

/// Replace the zygote with a fresh one (it died, or the policy changed).
pub(super) fn restart_zygote(state: &State) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let zygote = ZygoteClient::start(&exe, state.config.as_deref())?;
    *lock(&state.zygote) = zygote;
    Ok(())
}

pub(super) fn start_worker(
    state: &State,
    name: &str,
    source: &str,
    granted: &BTreeSet<HostCall>,
) -> Result<(Worker, Loaded), DaemonError> {
    let policy = state.policy();
    let limits = &policy.sandbox;
    let full_cgroups = state
        .cgroups
        .as_ref()
        .is_some_and(|c| c.support.kill && c.support.memory_max && c.support.pids_max);
    if limits
        .require
        .contains(&pyward_policy::config::Layer::Cgroup)
        && !full_cgroups
        && !limits.dangerously_allow_degraded
    {
        return Err(DaemonError::CgroupsRequired);
    }
    // If the zygote died (or stopped answering), start a new one and try once more. Not when
    // the supervisor itself is out of resources: a new zygote would not help, and replacing it
    // would end every other module's worker.
    let process = match zygote::spawn_worker(&state.zygote, limits) {
        Err(e) if !out_of_resources(&e) => restart_zygote(state).and_then(|()| {
            state.audit("zygote_restarted", json!({ "after": e.to_string() }));
            zygote::spawn_worker(&state.zygote, limits)
        }),
        spawned => spawned,
    }
    .map_err(|e| {
        if out_of_resources(&e) {
            // Nothing crashed, and the operator is the one who can act.
            DaemonError::OutOfResources(e)
        } else {
            DaemonError::WorkerStart(e)
        }
    })?;
    // The group is made and joined before the worker is told to load anything.
    let cgroup = match &state.cgroups {
        Some(root) => {
            let group = root
                .for_worker(&format!("pyward-worker-{}", process.pid()), limits)
                .and_then(|g| g.add(process.pid()).map(|()| g))
                .map_err(DaemonError::Cgroup)?;
            Some(group)
        }
        None => None,
    };
    let mut worker = Worker { process, cgroup };
    worker
        .process
        .wait_ready()
        .map_err(|f| DaemonError::Verdict(verdict::from_failure(&f, limits)))?;
    let deadline = Instant::now() + Duration::from_millis(limits.wall_ms);
    match worker.process.load(name, source, granted, deadline) {
        Ok(Ok(loaded)) => {
            // What it declares is part of every `module.list` and `health` answer.
            budget::check_commands(name, &loaded.commands, &policy.budgets)
                .map_err(DaemonError::Budget)?;
            // The parser cross-check: what CPython compiled against what the scanner saw. Only
            // forbidden identifiers can differ, so the source is scanned again (for what the
            // scanner saw) only when CPython compiled some; most modules compile none.
            let compiled = scan::forbidden_identifiers(
                &policy.scan,
                loaded.identifiers.iter().map(String::as_str),
            );
            if !policy.scan.dangerously_skip_scan && !compiled.is_empty() {
                let seen = scan::scan_source(name, source.as_bytes(), &policy.scan).seen_forbidden;
                let compiled = compiled.iter().map(String::as_str);
                if let Some(finding) = scan::parser_differential(&policy.scan, &seen, compiled) {
                    let error = DaemonError::ParserDifferential {
                        module: name.to_string(),
                        findings: json!([finding]),
                    };
                    return Err(state.refuse(
                        error,
                        "scan_rejected",
                        json!({ "module": name, "findings": [finding] }),
                    ));
                }
            }
            Ok((worker, loaded))
        }
        Ok(Err(error)) => Err(DaemonError::Verdict(verdict::from_error(&error))),
        Err(failure) => Err(DaemonError::Verdict(verdict::from_failure(
            &failure, limits,
        ))),
    }
}

/// The supervisor's own process is out of file descriptors or memory.
fn out_of_resources(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS)
    )
}
