//! The systemd units: checked offline (`systemd-analyze verify` and `security`), and live, under
//! a booted systemd in a container (`scripts/systemd-rootfs`, systemd-nspawn): installed with
//! `scripts/install-systemd`, socket-activated, confined, restarted after `kill -9` with its state,
//! reloaded by `systemctl reload`, stopped without leaving a process behind, logging to the
//! journal; brokered HTTP refused under the unit as shipped (`RestrictAddressFamilies=AF_UNIX`)
//! and working with the drop-in docs/deploy.md gives. Not tested live: `MemoryMax`/`TasksMax` and per-worker memory/pids cgroups, because
//! the container's cgroup2 mount offers no memory or pids controller on the test machine.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::container::{self, Container};
use common::daemon::{Client, reason};
use common::*;
use serde_json::{Value, json};

fn units_with_built_binary(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_pyward");
    let src = repo_root().join("scripts/systemd");
    let service = std::fs::read_to_string(src.join("pyward.service"))
        .unwrap()
        .replace("/usr/local/bin/pyward", bin);
    let socket = std::fs::read_to_string(src.join("pyward.socket")).unwrap();
    let (s, k) = (dir.join("pyward.service"), dir.join("pyward.socket"));
    std::fs::write(&s, service).unwrap();
    std::fs::write(&k, socket).unwrap();
    (s, k)
}

/// The overall exposure score in a `systemd-analyze security` report.
fn exposure(report: &str) -> f64 {
    report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for pyward.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{report}"))
}

/// Most exposed the service may be (0 = most confined, 10 = not at all).
const MAX_EXPOSURE: f64 = 3.0;

#[test]
fn units_verify_and_the_service_is_well_confined() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        skip_unless_expected("systemd-analyze", "systemd-analyze is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pyward-units-{}", std::process::id()));
    let (service, socket) = units_with_built_binary(&dir);
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&socket)
        .arg(&service)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{complaints}");
    assert!(
        complaints.trim().is_empty(),
        "systemd-analyze verify complained:\n{complaints}"
    );

    let security = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&service)
        .output()
        .unwrap();
    let score = exposure(&String::from_utf8_lossy(&security.stdout));
    eprintln!("systemd-analyze security: exposure {score} (0 = most confined, 10 = not at all)");
    assert!(
        score <= MAX_EXPOSURE,
        "the service's exposure rose to {score}:\n{}",
        String::from_utf8_lossy(&security.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- live, under a booted systemd ------------------------------------------------------------

/// Where the test mounts the built binary and the repository inside the container.
const BINARY: &str = "/opt/pyward/pyward";
const SOURCE: &str = "/opt/pyward/src";

/// An owner-only command (to need a grant) and one for everyone (to count against the rate
/// limit).
const MODULE: &str = r#""""The live systemd test's module."""
import json

import pyward


@pyward.command("echo", security="owner", help="echo TEXT")
def echo(event, args):
    return json.dumps({"args": args, "sender": event["sender"]})


@pyward.command("ping", security="everyone", help="ping")
def ping(event, args):
    return "pong"
"#;

/// The policy the test installs: root is admin, the pyward group's members are bots, a worker
/// must also have dropped root (the service runs as root).
fn policy(pyward_gid: u32, calls_per_window: u32) -> String {
    format!(
        r#"[[clients]]
uid = 0
role = "admin"

[[clients]]
gid = {pyward_gid}
role = "bot"

[acl]
owners = ["@owner"]

[sandbox]
require = ["landlock", "seccomp", "no_new_privs", "rlimits", "privilege_drop"]

[rate_limit]
calls_per_window = {calls_per_window}
window_seconds = 600
"#
    )
}

/// A module that fetches through pyward's HTTP broker, and the policy that lets it: the
/// container shares the host's network, so the test's server on 127.0.0.1 is reachable, and the
/// policy opens exactly that address (plain http, for that host only).
const FETCHER: &str = r#"import pyward

pyward.manifest(host_calls=["http_request"], http=["127.0.0.1"])


def fetch(url):
    r = pyward.http.get(url)
    return [r.status, r.text]
"#;

fn policy_with_http(pyward_gid: u32) -> String {
    policy(pyward_gid, 60)
        + r#"
[tiers.community]
host_calls = ["reply", "log"]

[tiers.fetcher]
host_calls = ["http_request"]
http = true
http_hosts = ["127.0.0.1"]

[http]
allow_cidrs = ["127.0.0.1/32"]
dangerously_allow_plain_http_hosts = ["127.0.0.1"]
"#
}

/// A one-route HTTP server on 127.0.0.1 for the broker to reach; counts the requests it answers.
fn http_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforecast!",
            );
        }
    });
    (port, served)
}

fn call(c: &mut Client, user: &str, command: &str, args: &str) -> Value {
    c.call(
        "module.call",
        json!({ "module": "live", "command": command, "args": args,
                "caller": { "user": user }, "event": { "chat": "!room", "sender": user } }),
    )
}

/// A property of pyward.service (`systemctl show -p NAME --value`).
fn show(c: &Container, name: &str) -> String {
    c.sh(&format!("systemctl show -p {name} --value pyward.service"))
        .trim()
        .to_string()
}

/// `(host pid, command line)` of every pyward process in the container: the supervisor, its
/// zygote and the workers.
fn pyward_processes(c: &Container) -> Vec<(u32, String)> {
    c.processes()
        .into_iter()
        .filter_map(|(host, _)| {
            let cmdline = std::fs::read(format!("/proc/{host}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let exe = std::fs::read_link(format!("/proc/{host}/exe")).ok();
            let ours = cmdline.contains("pyward")
                || exe.is_some_and(|e| e.to_string_lossy().contains("pyward"));
            ours.then_some((host, cmdline.trim().to_string()))
        })
        .collect()
}

/// A `/proc/PID/status` field.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("?")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Wait for `done`, checking every 50 ms, for at most `limit`.
fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The supervisor's lines in the journal, parsed (other lines skipped).
fn journal(c: &Container) -> Vec<Value> {
    c.sh("journalctl -u pyward.service --no-pager -o cat")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn installed_under_a_booted_systemd() {
    let test_started = Instant::now();
    if pyward_worker::sys::uid() != 0 {
        skip_unless_expected("systemd", "booting a container (systemd-nspawn) needs root");
        return;
    }
    for (tool, package) in [
        ("systemd-nspawn", "systemd-container"),
        ("nsenter", "util-linux"),
    ] {
        if std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_err()
        {
            skip_unless_expected(
                "systemd",
                &format!("{tool} is not installed (apt-get install {package})"),
            );
            return;
        }
    }
    let rootfs = match container::rootfs() {
        Ok(rootfs) => rootfs,
        Err(why) => {
            skip_unless_expected("systemd", &why);
            return;
        }
    };
    let rootfs_ready = test_started.elapsed();
    let binary = Path::new(env!("CARGO_BIN_EXE_pyward"));
    let root = repo_root();
    let boot_started = Instant::now();
    let mut c = match Container::boot(
        "systemd",
        &rootfs,
        &[(binary, BINARY), (root.as_path(), SOURCE)],
    ) {
        Ok(c) => c,
        Err(why) => {
            skip_unless_expected("systemd", &why);
            return;
        }
    };
    let boot = boot_started.elapsed();
    eprintln!("container: boot to `running` {:.2} s", boot.as_secs_f64());
    let checks_started = Instant::now();

    // Everything the binary links is in the rootfs (libpython3.11 above all).
    let missing = c.sh(&format!("ldd {BINARY} | grep 'not found' || true"));
    assert!(missing.trim().is_empty(), "missing libraries:\n{missing}");

    // -- install: the prebuilt binary, the units; the socket listens, the service waits.
    let installed = c.sh(&format!(
        "{SOURCE}/scripts/install-systemd --binary {BINARY} 2>&1"
    ));
    assert!(
        installed.contains("pyward.socket is listening"),
        "{installed}"
    );
    assert_eq!(
        c.sh_status("systemctl is-active pyward.socket").trim(),
        "active"
    );
    assert_eq!(
        c.sh_status("systemctl is-active pyward.service").trim(),
        "inactive"
    );
    let socket_file = c.sh("stat -c '%A %U %G' /run/pyward/pyward.sock");
    assert_eq!(
        socket_file.trim(),
        "srw-rw---- root pyward",
        "the socket's mode"
    );
    // The operator's step: list the bot's group under [[clients]] (install-systemd kept the
    // default policy it wrote; the service has not read it yet).
    let gid: u32 = c
        .sh("getent group pyward | cut -d: -f3")
        .trim()
        .parse()
        .unwrap();
    let policy_file = c.path("/etc/pyward/policy.toml");
    std::fs::write(&policy_file, policy(gid, 60)).unwrap();
    c.sh("pyward policy validate /etc/pyward/policy.toml");

    // -- socket activation: the first connection starts the service.
    let socket = c.path("/run/pyward/pyward.sock");
    let mut admin = Client::connect(&socket);
    let listed = admin.call("module.list", json!({}));
    assert_eq!(listed["result"], json!([]), "{listed}");
    assert_eq!(
        c.sh_status("systemctl is-active pyward.service").trim(),
        "active"
    );
    eprintln!("checked: pyward.socket listens, the first connection started pyward.service");

    // -- a real module: loaded, called, with the ACL and a grant.
    let loaded = admin.call("module.load", json!({ "name": "live", "source": MODULE }));
    assert!(loaded.get("result").is_some(), "{loaded}");
    let echoed = call(&mut admin, "@owner", "echo", "hello");
    assert_eq!(
        echoed["result"]["result"],
        json!(r#"{"args": "hello", "sender": "@owner"}"#),
        "{echoed}"
    );
    let denied = call(&mut admin, "@guest", "echo", "hi");
    assert_eq!(reason(&denied), "acl_denied", "{denied}");
    let granted = admin.call(
        "acl.grant",
        json!({ "user": "@guest", "module": "live", "command": "echo" }),
    );
    assert!(granted.get("result").is_some(), "{granted}");
    let echoed = call(&mut admin, "@guest", "echo", "hi");
    assert!(echoed.get("result").is_some(), "{echoed}");

    // A member of the pyward group connects as a bot; other users cannot connect at all.
    c.sh("useradd --system --gid pyward --no-create-home pyward-bot");
    let as_bot = |method: &str| {
        c.exec(&format!(
            "setpriv --reuid=pyward-bot --regid=pyward --init-groups \
             pyward ctl --socket /run/pyward/pyward.sock {method} '{{}}'"
        ))
    };
    let bot_list = as_bot("module.list");
    assert!(bot_list.status.success(), "{bot_list:?}");
    let bot_reload = as_bot("policy.reload");
    assert!(
        String::from_utf8_lossy(&bot_reload.stdout).contains("acl_denied"),
        "{bot_reload:?}"
    );
    let stranger = c.exec(
        "setpriv --reuid=nobody --regid=nogroup --clear-groups \
         pyward ctl --socket /run/pyward/pyward.sock module.list",
    );
    assert!(
        !stranger.status.success()
            && String::from_utf8_lossy(&stranger.stderr).contains("ermission denied"),
        "{stranger:?}"
    );
    eprintln!(
        "checked: module.load + module.call through the socket; ACL, grant, bot and stranger peers"
    );

    // -- the service's confinement, as systemd scores it live, equals the offline figure.
    let live = exposure(&c.sh("systemd-analyze security --no-pager pyward.service"));
    let offline = exposure(&c.sh(
        "systemd-analyze security --offline=true --no-pager /etc/systemd/system/pyward.service",
    ));
    eprintln!("systemd-analyze security: live {live}, offline {offline}");
    assert_eq!(live, offline, "the running service is scored differently");
    assert!(live <= MAX_EXPOSURE, "exposure {live}");

    // -- the workers are confined here: `pyward check` (run by the container's systemd, so under
    // everything the container imposes), and the service's own worker.
    let check: Value = serde_json::from_str(&c.sh(
        "systemd-run --quiet --wait --pipe pyward check --json --config /etc/pyward/policy.toml",
    ))
    .unwrap();
    let worker = &check["worker"];
    assert!(worker["landlock_abi"].is_number(), "{check}");
    for layer in ["seccomp", "no_new_privs", "rlimits", "privileges_dropped"] {
        assert_eq!(
            worker[layer],
            json!(true),
            "`pyward check`: {layer}: {check}"
        );
    }
    assert_eq!(worker["degraded"], json!([]), "{check}");
    let main_pid = show(&c, "MainPID");
    let main = c
        .host_pid(main_pid.parse().unwrap())
        .expect("the supervisor runs");
    let listed = admin.call("module.list", json!({}));
    let worker_pid = listed["result"][0]["worker"]["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no worker pid in {listed}")) as u32;
    let worker = c.host_pid(worker_pid).expect("the worker runs");
    for (field, expected) in [
        ("Uid", "65534 65534 65534 65534"),
        ("Gid", "65534 65534 65534 65534"),
        ("NoNewPrivs", "1"),
        ("Seccomp", "2"),
        ("CapPrm", "0000000000000000"),
        ("CapEff", "0000000000000000"),
        ("CapBnd", "0000000000000000"),
    ] {
        assert_eq!(
            status_field(worker, field),
            expected,
            "the worker's {field}"
        );
    }
    // The listening socket systemd passed stays with the supervisor: no zygote or worker holds it.
    let listener = std::fs::read_link(format!("/proc/{main}/fd/3")).unwrap();
    for (pid, cmdline) in pyward_processes(&c) {
        if pid == main {
            continue;
        }
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap();
        for fd in fds.flatten() {
            let target = std::fs::read_link(fd.path()).unwrap_or_default();
            assert_ne!(
                target, listener,
                "{cmdline} ({pid}) holds the listening socket"
            );
        }
    }
    // Delegate=yes: the supervisor puts the worker in a group of its own inside the service's,
    // and can kill it through cgroup.kill. (memory.max and pids.max need controllers this
    // machine's cgroup2 mount does not offer: not checked.)
    let health = admin.call("health", json!({}));
    let cgroups = &health["result"]["cgroups"];
    assert_eq!(cgroups["per_worker_groups"], json!(true), "{health}");
    assert_eq!(cgroups["kill"], json!(true), "{health}");
    let group = listed["result"][0]["worker"]["cgroup"]
        .as_str()
        .unwrap_or("");
    assert!(
        group.contains("/pyward.service/") && group.contains("pyward-worker-"),
        "the worker's cgroup: {listed}"
    );
    eprintln!(
        "checked: confined worker (Landlock ABI {}, seccomp, no_new_privs, uid 65534, no capabilities) in its own cgroup {group}; cgroups here: {cgroups}",
        check["worker"]["landlock_abi"]
    );

    // -- the journal holds the audit lines (journald may take a moment to store them).
    let in_journal = |what: &str, matches: &dyn Fn(&Value) -> bool| {
        wait_for(Duration::from_secs(5), what, || {
            journal(&c).iter().any(matches)
        })
    };
    in_journal("the `loaded` line in the journal", &|l| {
        l["event"] == "loaded" && l["module"] == "live"
    });
    in_journal("the `grant` line in the journal", &|l| {
        l["event"] == "grant" && l["grant"]["user"] == "@guest"
    });
    eprintln!("checked: journalctl -u pyward.service holds the audit lines (loaded, grant)");

    // -- kill -9 of the main process: Restart= starts it again, with modules and grants.
    let before = pyward_processes(&c);
    c.sh(&format!("kill -9 {main_pid}"));
    wait_for(Duration::from_secs(20), "the restart after kill -9", || {
        let pid = show(&c, "MainPID");
        pid != main_pid && pid != "0" && show(&c, "ActiveState") == "active"
    });
    assert_eq!(show(&c, "NRestarts"), "1");
    for (pid, cmdline) in &before {
        assert!(
            !c.processes().iter().any(|p| p.0 == *pid),
            "{cmdline} ({pid}) outlived its supervisor's kill -9"
        );
    }
    let mut admin = Client::connect(&socket);
    let listed = admin.call("module.list", json!({}));
    assert_eq!(listed["result"][0]["name"], "live", "{listed}");
    let grants = admin.call("acl.list", json!({}));
    assert!(
        grants.to_string().contains("@guest"),
        "the grant is gone: {grants}"
    );
    let echoed = call(&mut admin, "@guest", "echo", "again");
    assert!(echoed.get("result").is_some(), "{echoed}");
    eprintln!("checked: kill -9 → restarted by Restart=, module and grant intact");

    // -- systemctl reload = policy.reload: a lower rate limit takes effect.
    for _ in 0..2 {
        let pong = call(&mut admin, "@before", "ping", "");
        assert_eq!(pong["result"]["result"], "pong", "{pong}");
    }
    let main_pid = show(&c, "MainPID");
    std::fs::write(&policy_file, policy(gid, 1)).unwrap();
    c.sh("systemctl reload pyward.service");
    wait_for(Duration::from_secs(20), "the reload's audit record", || {
        let audit = admin.call("audit.list", json!({ "limit": 50 }));
        audit.to_string().contains("policy_reloaded")
    });
    let first = call(&mut admin, "@after", "ping", "");
    assert_eq!(first["result"]["result"], "pong", "{first}");
    let second = call(&mut admin, "@after", "ping", "");
    assert_eq!(reason(&second), "rate_limited", "{second}");
    assert_eq!(show(&c, "MainPID"), main_pid, "a reload is not a restart");
    in_journal("the `policy_reloaded` line in the journal", &|l| {
        l["event"] == "policy_reloaded"
    });
    eprintln!("checked: systemctl reload → policy reloaded (rate limit 60 → 1 took effect)");

    // -- systemctl restart of the service alone: the socket (kept by systemd) still works.
    drop(admin);
    c.sh("systemctl restart pyward.service");
    let mut admin = Client::connect(&socket);
    let listed = admin.call("module.list", json!({}));
    assert_eq!(listed["result"][0]["name"], "live", "{listed}");
    eprintln!("checked: systemctl restart pyward.service → the socket still serves");

    // -- brokered HTTP: the supervisor makes the request, so the unit's address families
    // decide. As shipped (AF_UNIX only) the request cannot leave; with the drop-in of
    // docs/deploy.md it does.
    let (port, served) = http_server();
    let reloads = |admin: &mut Client| {
        let audit = admin.call("audit.list", json!({ "limit": 1000 }));
        audit.to_string().matches("policy_reloaded").count()
    };
    let reloaded_before = reloads(&mut admin);
    std::fs::write(&policy_file, policy_with_http(gid)).unwrap();
    c.sh("pyward policy validate /etc/pyward/policy.toml");
    c.sh("systemctl reload pyward.service");
    wait_for(Duration::from_secs(20), "the HTTP policy's reload", || {
        reloads(&mut admin) > reloaded_before
    });
    let loaded = admin.call(
        "module.load",
        json!({ "name": "fetcher", "source": FETCHER, "tier": "fetcher", "approve": true }),
    );
    assert!(loaded.get("result").is_some(), "{loaded}");
    let url = format!("http://127.0.0.1:{port}/forecast");
    let fetch = |admin: &mut Client, user: &str| {
        admin.call(
            "module.call",
            json!({ "module": "fetcher", "function": "fetch", "args": [url],
                    "caller": { "user": user } }),
        )
    };
    let refused = fetch(&mut admin, "@owner");
    // The module ran (owner, granted, approved) and its request failed at the socket: the
    // unit's filter, not the ACL or the broker's rules, stopped it.
    assert_eq!(reason(&refused), "module_error", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("HttpError") && message.contains("Address family not supported"),
        "{refused}"
    );
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a request left under RestrictAddressFamilies=AF_UNIX: {refused}"
    );
    eprintln!(
        "checked: brokered HTTP under the unit as shipped → refused: {}",
        refused["error"]["message"]
    );
    let dropin = c.path("/etc/systemd/system/pyward.service.d");
    std::fs::create_dir_all(&dropin).unwrap();
    std::fs::write(
        dropin.join("http.conf"),
        "[Service]\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n",
    )
    .unwrap();
    drop(admin);
    c.sh("systemctl daemon-reload && systemctl restart pyward.service");
    let mut admin = Client::connect(&socket);
    let fetched = fetch(&mut admin, "@owner");
    assert_eq!(
        fetched["result"]["result"],
        json!([200, "forecast!"]),
        "{fetched}"
    );
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    eprintln!("checked: brokered HTTP with the drop-in of docs/deploy.md → fetched");

    // -- stop: nothing of pyward is left running.
    let running = pyward_processes(&c);
    assert!(
        running.len() >= 3,
        "expected a supervisor, a zygote and a worker: {running:?}"
    );
    drop(admin);
    c.sh("systemctl stop pyward.service pyward.socket");
    let left = pyward_processes(&c);
    assert!(left.is_empty(), "left behind after stop: {left:?}");
    std::thread::sleep(Duration::from_millis(200));
    let left = pyward_processes(&c);
    assert!(left.is_empty(), "left behind after stop: {left:?}");
    eprintln!("checked: systemctl stop → no supervisor, zygote or worker left");

    let checks = checks_started.elapsed();
    let shutdown = c.stop();
    eprintln!(
        "timings: rootfs {:.1} s, boot to running {:.2} s, checks {:.1} s, container shutdown {:.1} s, whole test {:.1} s",
        rootfs_ready.as_secs_f64(),
        boot.as_secs_f64(),
        checks.as_secs_f64(),
        shutdown.as_secs_f64(),
        test_started.elapsed().as_secs_f64()
    );
}
