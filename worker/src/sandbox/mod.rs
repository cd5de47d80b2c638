//! The worker's kernel confinement: computed as a [`SandboxPlan`] by pure functions, applied by
//! one ordered function, [`apply`], which reports what it really enforced ([`SandboxReport`]).
//!
//! A layer the policy requires but the kernel cannot enforce is an error unless the policy sets
//! `dangerously_allow_degraded`; what was enforced is reported either way, never assumed.
//!
//! The stages reach the kernel only through [`Sys`]: [`apply`] runs them on the real one
//! ([`LinuxSys`]), the unit tests on a recording fake.

#![forbid(unsafe_code)]

pub mod caps;
#[cfg(test)]
mod fake;
pub mod landlock;
pub mod namespaces;
pub mod rlimits;
pub mod seccomp;
pub mod syscalls;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd, RawFd};

use pyward_policy::config::{Layer, Namespace, SandboxLimits};
use serde::{Deserialize, Serialize};

use crate::sys;
pub use syscalls::{LinuxSys, Sys};

/// Where the supervisor link sits in a sandboxed worker.
pub const LINK_FD: RawFd = 3;
/// Where the SIGSYS reporter writes (read by whoever reaps the worker).
pub const REPORT_FD: RawFd = 4;

/// The supervisor link inside a sandboxed worker, where [`apply`] put it ([`LINK_FD`]).
pub fn worker_link() -> std::os::fd::BorrowedFd<'static> {
    sys::borrow_for_life(LINK_FD)
}

/// Everything [`apply`] will do, decided before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxPlan {
    pub rlimits: Vec<rlimits::Rlimit>,
    pub namespaces: namespaces::NamespacePlan,
    pub privileges: caps::PrivilegePlan,
    pub landlock: landlock::RulesetPlan,
    pub seccomp: Vec<sys::SockFilter>,
    pub required: BTreeSet<Layer>,
    pub allow_degraded: bool,
}

/// Compute the plan for a worker whose pid is `self_pid`, running with effective uid `euid`.
pub fn plan(limits: &SandboxLimits, euid: u32, self_pid: u32) -> SandboxPlan {
    let options = seccomp::RuleOptions {
        network: limits.dangerously_allow_network,
        self_pid: Some(self_pid),
    };
    let program = seccomp::compile(&seccomp::rules(options), seccomp::Arch::native())
        .expect("the built-in seccomp rules compile (tested)");
    SandboxPlan {
        rlimits: rlimits::plan(limits),
        namespaces: namespaces::plan(&limits.namespaces, euid),
        privileges: caps::plan(limits, euid),
        landlock: landlock::ruleset(
            limits.dangerously_allow_network,
            crate::runtime::interpreter_read_paths(limits.packages_dir.as_deref())
                .into_iter()
                .chain(limits.read_paths.iter().cloned())
                .collect(),
        ),
        seccomp: program,
        required: limits.require.clone(),
        allow_degraded: limits.dangerously_allow_degraded,
    }
}

/// What a worker really has in force, as it reports it to the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SandboxReport {
    pub fds_closed: bool,
    pub environment_cleared: bool,
    pub not_dumpable: bool,
    pub rlimits: bool,
    pub namespaces: Vec<Namespace>,
    pub uid: u32,
    pub gid: u32,
    /// Effective, permitted, inheritable and ambient capabilities are all empty.
    pub capabilities_empty: bool,
    /// The bounding set is empty too (only possible when starting as root; with no_new_privs a
    /// non-empty bounding set grants nothing).
    pub bounding_set_empty: bool,
    pub privileges_dropped: bool,
    pub no_new_privs: bool,
    pub landlock_abi: Option<u32>,
    pub landlock: Option<landlock::Coverage>,
    pub seccomp: bool,
    /// Layers that could not be enforced, with why (only when degraded mode is allowed).
    pub degraded: Vec<String>,
}

/// A stage of [`apply`] (or the part of one) that can fail, by the name errors, reports and
/// verdicts give it (`data.layer`; the policy's `sandbox.require` names most of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The worker process itself: one thread, a parent that is still there.
    Process,
    Fds,
    Signals,
    Dumpable,
    Namespaces,
    Rlimits,
    PrivilegeDrop,
    Capabilities,
    ParentDeathSignal,
    NoNewPrivs,
    Landlock,
    Seccomp,
}

impl Stage {
    pub const ALL: [Stage; 12] = [
        Stage::Process,
        Stage::Fds,
        Stage::Signals,
        Stage::Dumpable,
        Stage::Namespaces,
        Stage::Rlimits,
        Stage::PrivilegeDrop,
        Stage::Capabilities,
        Stage::ParentDeathSignal,
        Stage::NoNewPrivs,
        Stage::Landlock,
        Stage::Seccomp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Process => "process",
            Stage::Fds => "fds",
            Stage::Signals => "signals",
            Stage::Dumpable => "dumpable",
            Stage::Namespaces => "namespaces",
            Stage::Rlimits => "rlimits",
            Stage::PrivilegeDrop => "privilege_drop",
            Stage::Capabilities => "capabilities",
            Stage::ParentDeathSignal => "parent_death_signal",
            Stage::NoNewPrivs => "no_new_privs",
            Stage::Landlock => "landlock",
            Stage::Seccomp => "seccomp",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A layer could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("sandbox layer `{layer}` could not be enforced: {message}")]
pub struct SandboxError {
    pub layer: Stage,
    pub message: String,
}

fn error(layer: Stage, message: impl std::fmt::Display) -> SandboxError {
    SandboxError {
        layer,
        message: message.to_string(),
    }
}

impl SandboxPlan {
    /// A required layer failed: an error, unless the policy allows degraded workers.
    fn degrade(
        &self,
        layer: Layer,
        name: Stage,
        why: String,
        report: &mut SandboxReport,
    ) -> Result<(), SandboxError> {
        let required = self.required.contains(&layer);
        if required && !self.allow_degraded {
            return Err(error(name, why));
        }
        // A layer nobody asked for that is missing (cgroups by default) is not a degradation.
        if required || layer != Layer::Cgroup {
            report.degraded.push(format!("{name}: {why}"));
        }
        Ok(())
    }
}

/// Confine the calling process. The stages run in this order, each relying on the ones before:
///
/// 1. fds: the link moves to fd 3, the report pipe to fd 4, stdio to /dev/null, everything else
///    is closed; a new session (no controlling tty); the environment overwritten and emptied;
///    no blocked signals
/// 2. not dumpable, no core files, then the policy's rlimits
/// 3. namespaces the policy asks for
/// 4. as root: groups, gid, bounding set, uid; then ambient/inheritable/permitted/effective
///    emptied (as anyone)
/// 5. `no_new_privs`
/// 6. Landlock: a fresh domain for this worker alone, every right the ABI has, read-only rules
///    for the interpreter's standard library, the vetted packages, the time zone database and
///    the policy's read paths, TCP denied, signals and abstract sockets scoped
/// 7. seccomp, last, after the SIGSYS reporter is installed
///
/// The caller must be single-threaded (checked) and must have initialised the interpreter
/// already: after this, no file can be opened.
pub fn apply(
    plan: &SandboxPlan,
    link: OwnedFd,
    report_pipe: OwnedFd,
) -> Result<SandboxReport, SandboxError> {
    apply_with(&LinuxSys, plan, link, report_pipe)
}

/// [`apply`], on the kernel `sys` stands for.
pub fn apply_with(
    sys: &dyn Sys,
    plan: &SandboxPlan,
    link: OwnedFd,
    report_pipe: OwnedFd,
) -> Result<SandboxReport, SandboxError> {
    let mut report = SandboxReport::default();
    // INVARIANT: everything below assumes one thread: unshare, setuid, seccomp and the
    // environment apply to the calling thread (or need there to be only one).
    let single = sys
        .single_threaded()
        .map_err(|e| error(Stage::Process, e))?;
    stage_fds(sys, &single, link, report_pipe, &mut report)?;
    stage_limits(sys, plan, &mut report)?;
    stage_namespaces(sys, plan, &mut report)?;
    // INVARIANT: privileges are dropped before no_new_privs and Landlock, which an
    // unprivileged process may set up for itself, and before seccomp forbids setuid.
    stage_privileges(sys, plan, &mut report)?;
    stage_no_new_privs(sys, plan, &mut report)?;
    stage_landlock(sys, plan, &mut report)?;
    stage_not_built(plan, &mut report)?;
    // INVARIANT: seccomp last: every earlier stage makes syscalls the filter forbids.
    stage_seccomp(sys, plan, &mut report)?;
    Ok(report)
}

/// Requirements the worker can judge by itself that no stage covers: required namespaces with
/// none named. (A required `cgroup` is the caller's to check: the supervisor makes the groups.)
fn stage_not_built(plan: &SandboxPlan, report: &mut SandboxReport) -> Result<(), SandboxError> {
    if plan.required.contains(&Layer::Namespaces) && plan.namespaces.flags.is_empty() {
        plan.degrade(
            Layer::Namespaces,
            Stage::Namespaces,
            "the policy requires namespaces but sandbox.namespaces names none".into(),
            report,
        )?;
    }
    Ok(())
}

/// Stage 1: descriptors, session, environment, signal mask.
pub fn stage_fds(
    sys: &dyn Sys,
    single: &sys::SingleThreaded,
    link: OwnedFd,
    report_pipe: OwnedFd,
    report: &mut SandboxReport,
) -> Result<(), SandboxError> {
    let fds = || -> std::io::Result<()> {
        let link = dup_above(link, REPORT_FD)?;
        let report_pipe = dup_above(report_pipe, REPORT_FD)?;
        sys.move_fd(link, LINK_FD)?;
        sys.move_fd(report_pipe, REPORT_FD)?;
        sys.stdio_to_dev_null()?;
        sys.close_from(REPORT_FD + 1)
    };
    fds().map_err(|e| error(Stage::Fds, e))?;
    report.fds_closed = true;
    // A worker forked from a session leader (the zygote is one) cannot start its own session;
    // it has no controlling tty either way, which is what matters.
    let _ = sys.new_session();
    // Overwrite, then drop: the strings and the kernel's block, so a compromised interpreter
    // finds no secret of the caller in its own memory (the direct path scrubs before the
    // interpreter starts too; here it covers every other way in).
    sys.scrub_environment(single);
    report.environment_cleared = sys.environment_is_empty();
    sys.unblock_all_signals()
        .map_err(|e| error(Stage::Signals, e))
}

/// Stage 2: not dumpable, no core files, the policy's resource limits.
pub fn stage_limits(
    sys: &dyn Sys,
    plan: &SandboxPlan,
    report: &mut SandboxReport,
) -> Result<(), SandboxError> {
    sys.set_dumpable(false)
        .map_err(|e| error(Stage::Dumpable, e))?;
    report.not_dumpable = !sys.is_dumpable().unwrap_or(true);
    let mut ok = true;
    for limit in &plan.rlimits {
        if let Err(e) = sys.set_rlimit(limit) {
            ok = false;
            plan.degrade(
                Layer::Rlimits,
                Stage::Rlimits,
                format!("{}: {e}", limit.name),
                report,
            )?;
        }
    }
    report.rlimits = ok;
    Ok(())
}

/// Stage 3: the namespaces the policy asks for.
pub fn stage_namespaces(
    sys: &dyn Sys,
    plan: &SandboxPlan,
    report: &mut SandboxReport,
) -> Result<(), SandboxError> {
    if plan.namespaces.flags.is_empty() {
        return Ok(());
    }
    match sys.unshare(plan.namespaces.flags) {
        Ok(()) => {
            report.namespaces = plan.namespaces.namespaces.iter().copied().collect();
            Ok(())
        }
        Err(e) => plan.degrade(
            Layer::Namespaces,
            Stage::Namespaces,
            format!("unshare({:?}): {e}", plan.namespaces.namespaces),
            report,
        ),
    }
}

/// Stage 4: become the unprivileged uid (as root) and empty every capability set.
pub fn stage_privileges(
    sys: &dyn Sys,
    plan: &SandboxPlan,
    report: &mut SandboxReport,
) -> Result<(), SandboxError> {
    let parent = sys.parent_pid();
    if let caps::PrivilegePlan::DropTo { uid, gid } = plan.privileges {
        // INVARIANT: the bounding set can only be changed while we still hold CAP_SETPCAP,
        // i.e. before setuid; groups and gid before uid for the same reason.
        let drop = || -> std::io::Result<()> {
            sys.clear_supplementary_groups()?;
            sys.set_gid(gid)?;
            sys.clear_bounding_set()?;
            sys.set_uid(uid)
        };
        match drop() {
            Ok(()) => report.privileges_dropped = true,
            Err(e) => plan.degrade(
                Layer::PrivilegeDrop,
                Stage::PrivilegeDrop,
                format!("cannot become uid {uid}/gid {gid}: {e}"),
                report,
            )?,
        }
    }
    // INVARIANT: the kernel clears the parent-death signal when credentials change, so it is
    // armed again here; a parent that died in between is noticed by the pid check.
    sys.die_with_parent()
        .map_err(|e| error(Stage::ParentDeathSignal, e))?;
    if sys.parent_pid() != parent {
        return Err(error(
            Stage::Process,
            "the parent exited while the worker was starting",
        ));
    }
    let empty_caps = sys.clear_ambient_caps().and_then(|()| sys.clear_caps());
    if let Err(e) = empty_caps {
        plan.degrade(
            Layer::PrivilegeDrop,
            Stage::Capabilities,
            e.to_string(),
            report,
        )?;
    }
    (report.uid, report.gid) = sys.ids();
    // Read back from the kernel, every bit of every set: an error reading counts as not empty.
    let sets = sys.capability_sets();
    report.bounding_set_empty = sets.as_ref().is_ok_and(|s| s.bounding == 0);
    report.capabilities_empty = sets.as_ref().is_ok_and(|s| s.base_empty());
    let all_empty = report.capabilities_empty && report.bounding_set_empty;
    if plan.privileges != caps::PrivilegePlan::AlreadyUnprivileged && !all_empty {
        plan.degrade(
            Layer::PrivilegeDrop,
            Stage::Capabilities,
            "some capability set is not empty after dropping".into(),
            report,
        )?;
    }
    Ok(())
}

/// Stage 5: no new privileges (also what lets an unprivileged process install seccomp).
pub fn stage_no_new_privs(
    sys: &dyn Sys,
    plan: &SandboxPlan,
    report: &mut SandboxReport,
) -> Result<(), SandboxError> {
    sys.set_no_new_privs()
        .map_err(|e| error(Stage::NoNewPrivs, e))?;
    report.no_new_privs = sys.no_new_privs().unwrap_or(false);
    if !report.no_new_privs {
        plan.degrade(
            Layer::NoNewPrivs,
            Stage::NoNewPrivs,
            "PR_GET_NO_NEW_PRIVS says it is off".into(),
            report,
        )?;
    }
    Ok(())
}

/// Stage 6: Landlock.
pub fn stage_landlock(
    sys: &dyn Sys,
    plan: &SandboxPlan,
    report: &mut SandboxReport,
) -> Result<(), SandboxError> {
    match sys.landlock_restrict_self(&plan.landlock) {
        Ok((abi, coverage)) => {
            report.landlock_abi = Some(abi);
            report.landlock = Some(coverage);
            Ok(())
        }
        Err(why) => plan.degrade(Layer::Landlock, Stage::Landlock, why, report),
    }
}

/// Stage 7: seccomp, after the SIGSYS reporter (which writes to [`REPORT_FD`]).
pub fn stage_seccomp(
    sys: &dyn Sys,
    plan: &SandboxPlan,
    report: &mut SandboxReport,
) -> Result<(), SandboxError> {
    let seccomp = || -> std::io::Result<()> {
        sys.install_sigsys_reporter(REPORT_FD)?;
        sys.seccomp_install(&plan.seccomp)
    };
    match seccomp() {
        // The kernel accepted the filter, so it is in force (querying would need prctl, which
        // the filter itself refuses).
        Ok(()) => {
            report.seccomp = true;
            Ok(())
        }
        Err(e) => plan.degrade(Layer::Seccomp, Stage::Seccomp, e.to_string(), report),
    }
}

/// Duplicate `fd` to a number above `floor` so that moving the other fds cannot clobber it.
fn dup_above(fd: OwnedFd, floor: RawFd) -> std::io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    if fd.as_raw_fd() > floor {
        return Ok(fd);
    }
    let dup = fd.as_fd().try_clone_to_owned()?;
    if dup.as_raw_fd() > floor {
        return Ok(dup);
    }
    // Low fds are free below `floor`; keep duplicating until we land above it.
    let mut held = vec![fd, dup];
    loop {
        let next = held[0].as_fd().try_clone_to_owned()?;
        if next.as_raw_fd() > floor {
            return Ok(next);
        }
        held.push(next);
    }
}
