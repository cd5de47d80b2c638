//! The stages against the recording fake kernel: their order, what fails closed, what degrades
//! when the policy allows it, the privilege drop, and that the report says what was enforced.
//! (The real layers are tested in confined child processes: `worker/tests/probe.rs` and the
//! escape corpus.)

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::os::fd::OwnedFd;

use nix::sched::CloneFlags;
use pyward_policy::config::{Layer, Namespace, SandboxLimits};

use super::fake::{Call, RecordingSys};
use super::landlock::Coverage;
use super::*;

fn limits() -> SandboxLimits {
    pyward_policy::Policy::default().sandbox
}

fn strict() -> SandboxLimits {
    let mut limits = limits();
    limits.namespaces = BTreeSet::from([Namespace::Net]);
    limits.require.insert(Layer::Namespaces);
    limits.require.insert(Layer::PrivilegeDrop);
    limits
}

fn degraded_allowed() -> SandboxLimits {
    let mut limits = strict();
    limits.dangerously_allow_degraded = true;
    limits
}

/// Run every stage on `sys` for a worker planned with `limits`, as `euid`.
fn run(
    sys: &RecordingSys,
    limits: &SandboxLimits,
    euid: u32,
) -> Result<SandboxReport, SandboxError> {
    let (link, report) = std::os::unix::net::UnixStream::pair().unwrap();
    let plan = plan(limits, euid, 4321);
    apply_with(sys, &plan, OwnedFd::from(link), OwnedFd::from(report))
}

fn index(calls: &[Call], call: &Call) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("{call:?} was never made: {calls:?}"))
}

#[test]
fn stages_run_in_the_documented_order() {
    let sys = RecordingSys::root();
    let report = run(&sys, &limits(), 0).unwrap();
    let plan = plan(&limits(), 0, 4321);
    let mut expected = vec![
        Call::SingleThreaded,
        // 1. fds, session, environment, signals
        Call::MoveFd(LINK_FD),
        Call::MoveFd(REPORT_FD),
        Call::StdioToDevNull,
        Call::CloseFrom(REPORT_FD + 1),
        Call::NewSession,
        Call::ScrubEnvironment,
        Call::EnvironmentIsEmpty,
        Call::UnblockAllSignals,
        // 2. limits
        Call::SetDumpable(false),
        Call::IsDumpable,
    ];
    expected.extend(plan.rlimits.iter().map(|l| Call::SetRlimit(l.name)));
    expected.extend([
        // 3. no namespaces asked for by default; 4. privileges
        Call::ParentPid,
        Call::ClearSupplementaryGroups,
        Call::SetGid(65534),
        Call::ClearBoundingSet,
        Call::SetUid(65534),
        Call::DieWithParent,
        Call::ParentPid,
        Call::ClearAmbientCaps,
        Call::ClearCaps,
        Call::Ids,
        Call::CapabilitySets,
        // 5. no_new_privs
        Call::SetNoNewPrivs,
        Call::NoNewPrivs,
        // 6. Landlock
        Call::LandlockRestrictSelf {
            read_paths: plan.landlock.read_paths.len(),
        },
        // 7. seccomp
        Call::InstallSigsysReporter(REPORT_FD),
        Call::SeccompInstall {
            instructions: plan.seccomp.len(),
        },
    ]);
    assert_eq!(sys.calls(), expected);
    assert_eq!(
        report,
        SandboxReport {
            fds_closed: true,
            environment_cleared: true,
            not_dumpable: true,
            rlimits: true,
            namespaces: Vec::new(),
            uid: 65534,
            gid: 65534,
            capabilities_empty: true,
            bounding_set_empty: true,
            privileges_dropped: true,
            no_new_privs: true,
            landlock_abi: Some(7),
            landlock: Some(Coverage::Full),
            seccomp: true,
            degraded: Vec::new(),
        }
    );
}

#[test]
fn the_privilege_drop_is_ordered_and_comes_before_no_new_privs_landlock_and_seccomp() {
    let sys = RecordingSys::root();
    run(&sys, &strict(), 0).unwrap();
    let calls = sys.calls();
    let order = [
        Call::Unshare(CloneFlags::CLONE_NEWNET),
        Call::ClearSupplementaryGroups,
        Call::SetGid(65534),
        Call::ClearBoundingSet,
        Call::SetUid(65534),
        Call::DieWithParent,
        Call::ClearAmbientCaps,
        Call::ClearCaps,
        Call::SetNoNewPrivs,
        Call::LandlockRestrictSelf {
            read_paths: plan(&strict(), 0, 4321).landlock.read_paths.len(),
        },
        Call::InstallSigsysReporter(REPORT_FD),
    ];
    let at: Vec<usize> = order.iter().map(|call| index(&calls, call)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{calls:?}");
    assert!(
        matches!(calls.last(), Some(Call::SeccompInstall { .. })),
        "seccomp is the last call: {calls:?}"
    );
}

#[test]
fn an_unprivileged_worker_changes_no_ids_but_still_empties_its_capabilities() {
    let sys = RecordingSys::user(1000);
    let mut limits = limits();
    limits.namespaces = BTreeSet::from([Namespace::Net]);
    let report = run(&sys, &limits, 1000).unwrap();
    let calls = sys.calls();
    for call in [
        Call::ClearSupplementaryGroups,
        Call::SetGid(65534),
        Call::ClearBoundingSet,
        Call::SetUid(65534),
    ] {
        assert!(!calls.contains(&call), "{call:?} as an ordinary user");
    }
    // Without root, the net namespace needs a user namespace, made in the same unshare.
    assert!(calls.contains(&Call::Unshare(
        CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWUSER
    )));
    assert!(index(&calls, &Call::ClearAmbientCaps) < index(&calls, &Call::ClearCaps));
    assert_eq!((report.uid, report.gid), (1000, 1000));
    assert!(!report.privileges_dropped);
    assert!(report.capabilities_empty);
    assert!(
        !report.bounding_set_empty,
        "only root can empty the bounding set"
    );
    assert_eq!(report.namespaces, vec![Namespace::User, Namespace::Net]);
    assert!(report.degraded.is_empty(), "{:?}", report.degraded);
}

/// Each required layer that fails is an error naming it, and no later stage runs.
#[test]
fn a_failing_required_layer_is_an_error_and_nothing_after_it_runs() {
    type Case = (&'static str, RecordingSys, fn(&Call) -> bool);
    let cases: Vec<Case> = vec![
        (
            "rlimits",
            RecordingSys::root().failing(|c| *c == Call::SetRlimit("RLIMIT_AS")),
            |c| *c == Call::SetRlimit("RLIMIT_AS"),
        ),
        (
            "namespaces",
            RecordingSys::root().failing(|c| matches!(c, Call::Unshare(_))),
            |c| matches!(c, Call::Unshare(_)),
        ),
        (
            "privilege_drop",
            RecordingSys::root().failing(|c| matches!(c, Call::SetUid(_))),
            |c| matches!(c, Call::SetUid(_)),
        ),
        (
            "capabilities",
            RecordingSys::root().failing(|c| *c == Call::ClearCaps),
            |c| *c == Call::ClearCaps,
        ),
        (
            "capabilities",
            RecordingSys::root().leaving_in_bounding_set(1 << 40),
            |c| *c == Call::CapabilitySets,
        ),
        (
            "no_new_privs",
            RecordingSys::root().no_new_privs_does_not_stick(),
            |c| *c == Call::NoNewPrivs,
        ),
        (
            "landlock",
            RecordingSys::root().landlock(Err(
                "the kernel offers no Landlock: Operation not permitted".into(),
            )),
            |c| matches!(c, Call::LandlockRestrictSelf { .. }),
        ),
        (
            "seccomp",
            RecordingSys::root().failing(|c| matches!(c, Call::SeccompInstall { .. })),
            |c| matches!(c, Call::SeccompInstall { .. }),
        ),
    ];
    for (layer, sys, last) in cases {
        let error = run(&sys, &strict(), 0).expect_err(layer);
        assert_eq!(error.layer.name(), layer, "{error}");
        let calls = sys.calls();
        assert!(
            calls.last().is_some_and(last),
            "{layer}: a stage ran after the failure: {calls:?}"
        );
        assert!(
            !calls
                .iter()
                .any(|c| matches!(c, Call::SeccompInstall { .. }))
                || layer == "seccomp",
            "{layer}: seccomp went on after a failed layer"
        );
    }
}

#[test]
fn degraded_mode_goes_on_and_reports_each_missing_layer() {
    let sys = RecordingSys::root()
        .failing(|c| *c == Call::SetRlimit("RLIMIT_AS"))
        .failing(|c| matches!(c, Call::Unshare(_)))
        .failing(|c| matches!(c, Call::SetUid(_)))
        .failing(|c| matches!(c, Call::SeccompInstall { .. }))
        .landlock(Err(
            "the kernel offers no Landlock: Function not implemented".into(),
        ));
    let report = run(&sys, &degraded_allowed(), 0).unwrap();
    let layers: Vec<&str> = report
        .degraded
        .iter()
        .map(|d| d.split(':').next().unwrap())
        .collect();
    assert_eq!(
        layers,
        [
            "rlimits",
            "namespaces",
            "privilege_drop",
            "landlock",
            "seccomp"
        ]
    );
    assert!(report.degraded[0].starts_with("rlimits: RLIMIT_AS: "));
    assert!(report.degraded[2].starts_with("privilege_drop: cannot become uid 65534/gid 65534"));
    // What was not enforced is reported as such, never assumed.
    assert!(!report.rlimits);
    assert!(report.namespaces.is_empty());
    assert!(!report.privileges_dropped);
    assert_eq!(report.uid, 0, "still root: the report says so");
    assert_eq!(report.landlock_abi, None);
    assert_eq!(report.landlock, None);
    assert!(!report.seccomp);
    // Every stage still ran, in order.
    assert!(matches!(
        sys.calls().last(),
        Some(Call::SeccompInstall { .. })
    ));
}

#[test]
fn a_layer_the_policy_does_not_require_degrades_without_an_error() {
    // The default policy requires Landlock, seccomp, no_new_privs and rlimits, not the drop.
    assert!(!limits().require.contains(&Layer::PrivilegeDrop));
    let sys = RecordingSys::root().failing(|c| matches!(c, Call::SetUid(_)));
    let report = run(&sys, &limits(), 0).unwrap();
    assert_eq!(report.degraded.len(), 1, "{:?}", report.degraded);
    assert!(report.degraded[0].starts_with("privilege_drop: "));
    assert!(!report.privileges_dropped);
    assert!(report.seccomp);
}

#[test]
fn some_stages_fail_closed_even_when_degraded_mode_is_allowed() {
    type Case = (&'static str, RecordingSys);
    let cases: Vec<Case> = vec![
        (
            "process",
            RecordingSys::root().failing(|c| *c == Call::SingleThreaded),
        ),
        (
            "fds",
            RecordingSys::root().failing(|c| *c == Call::StdioToDevNull),
        ),
        (
            "fds",
            RecordingSys::root().failing(|c| matches!(c, Call::CloseFrom(_))),
        ),
        (
            "signals",
            RecordingSys::root().failing(|c| *c == Call::UnblockAllSignals),
        ),
        (
            "dumpable",
            RecordingSys::root().failing(|c| *c == Call::SetDumpable(false)),
        ),
        (
            "parent_death_signal",
            RecordingSys::root().failing(|c| *c == Call::DieWithParent),
        ),
        ("process", RecordingSys::root().parent_exits()),
        (
            "no_new_privs",
            RecordingSys::root().failing(|c| *c == Call::SetNoNewPrivs),
        ),
    ];
    for (layer, sys) in cases {
        let error = run(&sys, &degraded_allowed(), 0).expect_err(layer);
        assert_eq!(error.layer.name(), layer, "{error}");
        assert!(
            !sys.calls()
                .iter()
                .any(|c| matches!(c, Call::LandlockRestrictSelf { .. })),
            "{layer}: the stages went on"
        );
    }
}

#[test]
fn a_session_that_cannot_be_started_is_no_failure() {
    // A worker forked from a session leader (the zygote) cannot start its own session.
    let sys = RecordingSys::root().failing(|c| *c == Call::NewSession);
    let report = run(&sys, &limits(), 0).unwrap();
    assert!(report.degraded.is_empty());
}

#[test]
fn capabilities_left_after_dropping_are_seen_and_reported() {
    // A capability the `caps` crate has no name for stays in the bounding set: the read-back
    // sees every bit.
    let sys = RecordingSys::root().leaving_in_bounding_set(1 << 40);
    let report = run(&sys, &limits(), 0).unwrap();
    assert!(!report.bounding_set_empty);
    assert!(report.capabilities_empty);
    assert_eq!(
        report.degraded,
        ["capabilities: some capability set is not empty after dropping"]
    );
}

#[test]
fn landlock_reports_the_abi_and_coverage_the_kernel_enforced() {
    let sys = RecordingSys::root().landlock(Ok((5, Coverage::Partial)));
    let report = run(&sys, &limits(), 0).unwrap();
    assert_eq!(report.landlock_abi, Some(5));
    assert_eq!(report.landlock, Some(Coverage::Partial));
    assert!(
        report.degraded.is_empty(),
        "a partial ruleset is enforced, not degraded"
    );
}

#[test]
fn required_namespaces_that_the_policy_names_none_of_are_an_error_before_seccomp() {
    let mut limits = limits();
    limits.require.insert(Layer::Namespaces);
    let sys = RecordingSys::root();
    let error = run(&sys, &limits, 0).unwrap_err();
    assert_eq!(error.layer, Stage::Namespaces);
    assert!(matches!(
        sys.calls().last(),
        Some(Call::LandlockRestrictSelf { .. })
    ));
    assert!(!sys.calls().iter().any(|c| matches!(c, Call::Unshare(_))));
}
