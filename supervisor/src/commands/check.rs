//! `pyward check`: what this machine can enforce, and what a worker really gets under the
//! policy (a real worker is started and reports what it enforced).

use std::path::Path;
use std::process::ExitCode;

use pyward_worker::kernel::{self, KernelFacts};
use pyward_worker::process::WorkerProcess;
use pyward_worker::runtime::RuntimeConfig;
use pyward_worker::sandbox::SandboxReport;
use pyward_worker::verdict;
use serde::Serialize;

use super::load_policy;

#[derive(Debug, Serialize)]
struct CheckReport {
    machine: KernelFacts,
    /// What a worker started under this policy actually enforced.
    worker: Option<SandboxReport>,
    /// Why no worker could start (a required layer is missing, say).
    worker_error: Option<String>,
    required_layers: Vec<String>,
}

pub fn run(config: Option<&Path>, json: bool) -> ExitCode {
    let policy = match load_policy(config) {
        Ok(policy) => policy,
        Err(code) => return code,
    };
    // Probe first: it forks, and must happen while this process is still single-threaded.
    let machine = kernel::probe();
    let required_layers = policy
        .sandbox
        .require
        .iter()
        .map(|l| {
            serde_json::to_value(l)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    let (worker, worker_error) =
        match WorkerProcess::spawn_direct(&RuntimeConfig::from_policy(&policy), &policy.sandbox) {
            Err(failure) => (
                None,
                Some(verdict::from_failure(&failure, &policy.sandbox).detail),
            ),
            Ok(mut w) => match w.wait_ready() {
                Ok(report) => (Some(report), None),
                Err(failure) => (
                    None,
                    Some(verdict::from_failure(&failure, &policy.sandbox).detail),
                ),
            },
        };
    let report = CheckReport {
        machine,
        worker,
        worker_error,
        required_layers,
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serialisable")
        );
    } else {
        print_table(&report);
    }
    if report
        .worker
        .as_ref()
        .is_some_and(|w| w.degraded.is_empty())
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn print_table(r: &CheckReport) {
    let m = &r.machine;
    println!("machine");
    println!("  kernel                {}", m.kernel);
    println!("  running as root       {}", yes(m.running_as_root));
    match m.landlock_abi {
        Some(abi) => println!("  landlock              ABI {abi}"),
        None => println!(
            "  landlock              no ({})",
            m.landlock_error.as_deref().unwrap_or("?")
        ),
    }
    println!("  seccomp filters       {}", yes(m.seccomp_filter));
    match &m.user_namespaces_error {
        None => println!("  user namespaces       yes"),
        Some(why) => println!("  user namespaces       no ({why})"),
    }
    println!(
        "  cgroup v2             {}",
        m.cgroup2_mount.as_deref().unwrap_or("not mounted")
    );
    println!(
        "  cgroup delegated      {} (group {}, controllers: {})",
        yes(m.cgroup_delegated),
        m.cgroup.as_deref().unwrap_or("?"),
        if m.cgroup_controllers.is_empty() {
            "none".to_string()
        } else {
            m.cgroup_controllers.join(" ")
        }
    );
    if !m.cgroup_delegated {
        println!(
            "                        per-worker memory/pids cgroups unavailable: rlimits and the deadline still apply"
        );
    }
    println!();
    println!("policy requires         {}", r.required_layers.join(", "));
    match (&r.worker, &r.worker_error) {
        (Some(w), _) => {
            println!("a worker really gets");
            let landlock = match (w.landlock_abi, w.landlock) {
                (Some(abi), Some(coverage)) => format!(
                    "yes, ABI {abi} ({})",
                    serde_json::to_value(coverage)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("?")
                ),
                _ => "no".into(),
            };
            println!("  landlock              {landlock}");
            println!("  seccomp allowlist     {}", yes(w.seccomp));
            println!("  no_new_privs          {}", yes(w.no_new_privs));
            println!("  rlimits               {}", yes(w.rlimits));
            println!(
                "  uid/gid               {}/{}{}",
                w.uid,
                w.gid,
                if w.privileges_dropped {
                    " (dropped from root)"
                } else {
                    ""
                }
            );
            println!("  capabilities empty    {}", yes(w.capabilities_empty));
            println!("  bounding set empty    {}", yes(w.bounding_set_empty));
            println!(
                "  fds closed, env empty {}",
                yes(w.fds_closed && w.environment_cleared)
            );
            println!(
                "  namespaces            {}",
                if w.namespaces.is_empty() {
                    "none requested".to_string()
                } else {
                    format!("{:?}", w.namespaces)
                }
            );
            for d in &w.degraded {
                println!("  DEGRADED              {d}");
            }
        }
        (None, Some(error)) => println!("a worker cannot start: {error}"),
        (None, None) => println!("a worker cannot start"),
    }
}
