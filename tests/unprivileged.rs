//! The unprivileged path: pyward run by an ordinary user (uid 65534 here) still confines its
//! workers with Landlock, seccomp and no_new_privs, and the escapes still fail.

mod common;

use std::os::unix::process::CommandExt;

use common::*;
use serde_json::Value;

fn run_as_nobody(args: &[&str]) -> Value {
    let out = run(pyward().args(args).uid(65534).gid(65534).current_dir("/"));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn an_unprivileged_supervisor_still_confines_workers() {
    if pyward_worker::sys::euid() != 0 {
        // Already unprivileged: every other test in this suite covers this path.
        eprintln!("SKIPPED here (not root): the whole suite already runs unprivileged");
        return;
    }
    let good = corpus("good").join("calc.py");
    let json = run_as_nobody(&[
        "run",
        "--json",
        good.to_str().unwrap(),
        "--call",
        "calc",
        "--args",
        "\"6 * 7\"",
    ]);
    assert_eq!(json["status"], "ok", "{json}");
    assert_eq!(json["result"], "42");
    let sandbox = &json["sandbox"];
    assert_eq!(sandbox["uid"], 65534);
    assert_eq!(
        sandbox["privileges_dropped"], false,
        "nothing to drop when not root"
    );
    assert_eq!(sandbox["seccomp"], true);
    assert_eq!(sandbox["no_new_privs"], true);
    assert_eq!(sandbox["capabilities_empty"], true);
    assert_eq!(
        sandbox["bounding_set_empty"], false,
        "an ordinary user cannot empty it; no_new_privs makes it moot"
    );
    if pyward_worker::sys::landlock_abi().is_ok() {
        assert!(sandbox["landlock_abi"].is_number(), "{sandbox}");
    }
    let escape = repo_root().join("tests/escapes/read_secret_file.py");
    let json = run_as_nobody(&[
        "run",
        "--json",
        "--dangerously-skip-scan",
        escape.to_str().unwrap(),
        "--call",
        "attack",
    ]);
    assert_ne!(json["status"], "ok", "{json}");
}
