//! The native probe (`examples/probe.rs`) applies the worker sandbox in child processes and
//! tries every bypass class at syscall level. With all layers on, nothing may get through; each
//! layer alone must stop the attempts it is responsible for; and with no layers (the control)
//! the probe must see real successes, or it would prove nothing.

use std::collections::BTreeMap;
use std::process::Command;

fn probe_binary() -> std::path::PathBuf {
    // tests run from target/<profile>/deps/; examples are built beside them by cargo test.
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("probe")
}

fn run_probe(layers: &str) -> BTreeMap<String, (String, String)> {
    let out = Command::new(probe_binary())
        .args(["--layers", layers])
        // A secret of the caller: no confined child may find it in its own memory.
        .env(
            "PYWARD_PROBE_SECRET",
            format!("pyward-probe-secret-{:x}", std::process::id()),
        )
        .output()
        .expect("the probe example is built with the tests");
    assert!(
        out.status.success(),
        "probe --layers {layers}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                v["attempt"].as_str().unwrap().to_string(),
                (
                    v["outcome"].as_str().unwrap().to_string(),
                    v["detail"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

fn is_root() -> bool {
    pyward_worker::sys::euid() == 0
}

fn landlock_available() -> bool {
    pyward_worker::sys::landlock_abi().is_ok()
}

fn expected(capability: &str) -> bool {
    std::env::var("PYWARD_TEST_EXPECT")
        .unwrap_or_default()
        .split(',')
        .any(|c| c.trim() == capability)
}

fn assert_stopped(results: &BTreeMap<String, (String, String)>, layers: &str, attempts: &[&str]) {
    let mut leaks = Vec::new();
    for attempt in attempts {
        let (outcome, detail) = results
            .get(*attempt)
            .unwrap_or_else(|| panic!("the probe has no attempt {attempt}"));
        if outcome != "refused" && outcome != "killed" {
            leaks.push(format!("{attempt}: {outcome} ({detail})"));
        }
    }
    assert!(
        leaks.is_empty(),
        "with --layers {layers}, these got through:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn nothing_gets_through_all_layers() {
    if !landlock_available() {
        assert!(
            !expected("landlock"),
            "PYWARD_TEST_EXPECT lists landlock but the kernel has none"
        );
        eprintln!("SKIPPED: no Landlock on this kernel; the default policy requires it");
        return;
    }
    let results = run_probe("all");
    assert!(results.len() >= 30);
    let all: Vec<&str> = results.keys().map(String::as_str).collect();
    assert_stopped(&results, "all", &all);
}

#[test]
fn the_control_run_sees_real_escapes() {
    let results = run_probe("none");
    for attempt in [
        "open_for_write",
        "tcp_connect",
        "mmap_prot_exec",
        "fork",
        "memfd_create_execveat",
        "caller_secret_in_memory",
    ] {
        assert_eq!(
            results[attempt].0, "succeeded",
            "{attempt} without a sandbox: {:?}",
            results[attempt]
        );
    }
}

#[test]
fn seccomp_alone_stops_every_syscall_class_it_owns() {
    let results = run_probe("seccomp");
    let owned: Vec<&str> = results
        .keys()
        .map(String::as_str)
        .filter(|a| {
            ![
                "read_etc_shadow",
                "read_secret_outside_read_paths",
                "allocate_1gib",
                // stage 1 (the environment scrub), which every layer run includes
                "caller_secret_in_memory",
            ]
            .contains(a)
        })
        .collect();
    assert_stopped(&results, "seccomp", &owned);
}

#[test]
fn landlock_alone_stops_files_network_signals_and_tracing() {
    if !landlock_available() {
        assert!(
            !expected("landlock"),
            "PYWARD_TEST_EXPECT lists landlock but the kernel has none"
        );
        eprintln!("SKIPPED: no Landlock on this kernel");
        return;
    }
    let results = run_probe("landlock");
    assert_stopped(
        &results,
        "landlock",
        &[
            "open_for_write",
            "openat2_for_write",
            "read_etc_shadow",
            "read_secret_outside_read_paths",
            "open_proc_self_mem",
            "unlink_file",
            "tcp_connect",
            "abstract_unix_connect",
            "ptrace_sentinel_process",
            "process_vm_readv_parent",
            "kill_sentinel_process",
            "tgkill_sentinel_process",
            "signal_parent",
        ],
    );
}

#[test]
fn privilege_drop_alone_stops_what_root_could_do() {
    if !is_root() {
        eprintln!(
            "SKIPPED (not root): the privilege-drop layer only acts when the supervisor is root"
        );
        return;
    }
    let results = run_probe("privileges");
    assert_stopped(
        &results,
        "privileges",
        &[
            "read_etc_shadow",
            "kill_sentinel_process",
            "mount",
            "setuid_root",
            "ptrace_sentinel_process",
        ],
    );
}

#[test]
fn no_confined_child_finds_the_callers_secret_in_its_memory() {
    // Stage 1 (descriptors and the environment) runs in every layer mode.
    for layers in ["fds", "rlimits", "seccomp"] {
        let results = run_probe(layers);
        assert_stopped(&results, layers, &["caller_secret_in_memory"]);
    }
}

#[test]
fn rlimits_alone_stop_a_huge_allocation() {
    let results = run_probe("rlimits");
    assert_stopped(&results, "rlimits", &["allocate_1gib"]);
}
