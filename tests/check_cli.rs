//! `pyward check` tells the truth: its claims are compared with what the test finds itself.

mod common;

use common::*;
use serde_json::Value;

fn check(config: Option<&std::path::Path>) -> (i32, Value) {
    let mut cmd = pyward();
    cmd.args(["check", "--json"]);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let out = run(&mut cmd);
    let json = serde_json::from_slice(&out.stdout).expect("check --json prints JSON");
    (out.status.code().unwrap(), json)
}

/// Asked of the kernel directly (landlock_create_ruleset's version query), not through pyward.
fn lsm_has_landlock() -> bool {
    // SAFETY: the documented version query: null attribute, size 0, flag VERSION.
    unsafe { libc::syscall(444, std::ptr::null::<u8>(), 0usize, 1u32) > 0 }
}

#[test]
fn check_matches_the_machine() {
    let (code, json) = check(None);
    let machine = &json["machine"];
    let root = pyward_worker::sys::euid() == 0;
    assert_eq!(machine["running_as_root"], root);
    assert_eq!(
        machine["landlock_abi"].is_number(),
        lsm_has_landlock(),
        "{machine}"
    );
    if !lsm_has_landlock() {
        skip_unless_expected("landlock", "the kernel's LSM list has no landlock");
        assert_eq!(
            code, 1,
            "the default policy requires Landlock: no worker can start"
        );
        return;
    }
    assert_eq!(code, 0, "{json}");
    let worker = &json["worker"];
    assert_eq!(worker["seccomp"], true);
    assert_eq!(worker["no_new_privs"], true);
    assert_eq!(worker["landlock_abi"], machine["landlock_abi"]);
    let expected_uid = if root {
        65534
    } else {
        pyward_worker::sys::uid()
    };
    assert_eq!(worker["uid"], expected_uid);
    assert_eq!(worker["privileges_dropped"], root);
    assert_eq!(worker["capabilities_empty"], true);
    assert_eq!(
        worker["bounding_set_empty"], root,
        "only root can empty the bounding set"
    );
    let cgroup_line = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert_eq!(
        machine["cgroup"].as_str().is_some(),
        cgroup_line.lines().any(|l| l.starts_with("0::"))
    );
}

#[test]
fn a_required_layer_that_cannot_be_enforced_stops_the_worker() {
    let dir = std::env::temp_dir().join(format!("pyward-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.toml");
    // Namespaces required, but none named: no worker can satisfy that.
    std::fs::write(
        &policy,
        "[sandbox]\nrequire = [\"seccomp\", \"namespaces\"]\n",
    )
    .unwrap();
    let (code, json) = check(Some(&policy));
    assert_eq!(code, 1);
    assert!(json["worker"].is_null(), "{json}");
    let error = json["worker_error"].as_str().unwrap();
    assert!(error.contains("namespaces"), "{error}");
    let degraded =
        "[sandbox]\nrequire = [\"seccomp\", \"namespaces\"]\ndangerously_allow_degraded = true\n";
    std::fs::write(&policy, degraded).unwrap();
    let (code, json) = check(Some(&policy));
    assert_eq!(code, 1, "a degraded worker is reported as such");
    let first = json["worker"]["degraded"][0].as_str().unwrap_or_default();
    assert!(first.contains("namespaces"), "{json}");
}
