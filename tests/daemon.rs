//! `pyward serve` end to end: the real binary, a real socket, JSON-RPC lines.

mod common;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;
use serde_json::{Value, json};

#[test]
fn load_call_list_unload_and_the_acl() {
    let daemon = Daemon::start("acl", "");
    let mut c = daemon.client();
    let loaded = load(&mut c, "calc", "calc.py");
    assert_eq!(loaded["result"]["commands"][0]["name"], "calc", "{loaded}");
    let r = c.call("module.call", json!({ "module": "calc", "command": "calc", "args": "6 * 7", "caller": { "user": "@anyone" } }));
    assert_eq!(r["result"]["result"], "42", "{r}");

    // poll.py: `poll` is sudo, `vote` is everyone.
    load(&mut c, "poll", "poll.py");
    let poll = |c: &mut Client, user: &str| {
        c.call_with(
            "module.call",
            json!({ "module": "poll", "command": "poll", "args": "Lunch? | a | b", "caller": { "user": user }, "event": { "chat": "c1", "sender": user } }),
            &mut |_| json!(null),
        )
    };
    assert_eq!(reason(&poll(&mut c, "@anyone")), "acl_denied");
    assert!(poll(&mut c, "@sudo")["result"].is_object());
    assert!(poll(&mut c, "@owner")["result"].is_object());
    c.call(
        "acl.grant",
        json!({ "user": "@anyone", "module": "poll", "command": "poll", "expires_in_seconds": 1 }),
    );
    assert!(
        poll(&mut c, "@anyone")["result"].is_object(),
        "the grant allows it"
    );
    std::thread::sleep(Duration::from_millis(2100));
    let expired = poll(&mut c, "@anyone");
    assert_eq!(reason(&expired), "acl_denied");
    assert_eq!(
        expired["error"]["data"]["denied"]["reason"], "grant_expired",
        "{expired}"
    );
    let again = poll(&mut c, "@anyone");
    assert_eq!(
        again["error"]["data"]["denied"]["reason"], "level",
        "the expiry is reported once"
    );
    assert!(
        c.call("acl.list", json!({}))["result"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A lifetime that is not a positive number would otherwise read as "forever".
    for bad in [json!("3600"), json!(0), json!(-5), json!(1e12), json!(true)] {
        let refused = c.call(
            "acl.grant",
            json!({ "user": "@anyone", "module": "poll", "expires_in_seconds": bad }),
        );
        assert_eq!(reason(&refused), "bad_request", "{bad}: {refused}");
        assert_eq!(
            refused["error"]["data"]["param"], "expires_in_seconds",
            "{refused}"
        );
    }
    assert!(
        c.call("acl.list", json!({}))["result"]
            .as_array()
            .unwrap()
            .is_empty(),
        "no refused grant was stored"
    );

    let list = c.call("module.list", json!({}));
    assert_eq!(list["result"].as_array().unwrap().len(), 2);
    assert!(c.call("module.unload", json!({ "name": "poll" }))["result"].is_object());
    assert_eq!(
        reason(&c.call(
            "module.call",
            json!({ "module": "poll", "command": "vote", "caller": { "user": "@owner" } })
        )),
        "not_found"
    );
}

#[test]
fn host_calls_are_relayed_to_the_calling_connection() {
    let daemon = Daemon::start("host", "");
    let mut c = daemon.client();
    load(&mut c, "greet", "async_greeter.py");
    let mut seen = Vec::new();
    for _ in 0..2 {
        let reply = c.call_with(
            "module.call",
            json!({ "module": "greet", "command": "welcome", "args": "Ann", "caller": { "user": "@u" }, "event": { "chat": "c1", "sender": "@u" } }),
            &mut |params| {
                seen.push(params.clone());
                json!(null)
            },
        );
        assert!(reply["result"].is_object(), "{reply}");
    }
    // The counter lives in the storage pyward keeps for the module: only replies reach the bot.
    let calls: Vec<&str> = seen.iter().map(|p| p["call"].as_str().unwrap()).collect();
    assert_eq!(calls, ["reply", "reply"]);
    assert_eq!(
        seen[1]["args"]["text"],
        "Welcome, Ann! You are guest number 2."
    );
    assert_eq!(seen[1]["module"], "greet");
}

#[test]
fn rate_limits_apply_per_caller_and_module() {
    let daemon = Daemon::start(
        "rate",
        "[rate_limit]\ncalls_per_window = 3\nwindow_seconds = 60\n",
    );
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    let call = |c: &mut Client, user: &str| {
        c.call(
            "module.call",
            json!({ "module": "calc", "command": "calc", "args": "1", "caller": { "user": user } }),
        )
    };
    for _ in 0..3 {
        assert!(call(&mut c, "@a")["result"].is_object());
    }
    assert_eq!(reason(&call(&mut c, "@a")), "rate_limited");
    assert!(
        call(&mut c, "@b")["result"].is_object(),
        "another caller has its own window"
    );
}

#[test]
fn failures_quarantine_a_module_until_it_is_released() {
    let daemon = Daemon::start("quarantine", "");
    let mut c = daemon.client();
    let source = "def boom():\n    raise ValueError('always')\n\ndef fine():\n    return 1\n";
    assert!(
        c.call("module.load", json!({ "name": "flaky", "source": source }))["result"].is_object()
    );
    let call = |c: &mut Client, f: &str| {
        c.call(
            "module.call",
            json!({ "module": "flaky", "function": f, "caller": { "user": "@owner" } }),
        )
    };
    for _ in 0..3 {
        assert_eq!(reason(&call(&mut c, "boom")), "module_error");
    }
    let refused = call(&mut c, "fine");
    assert_eq!(reason(&refused), "quarantined", "{refused}");
    let health = c.call("health", json!({}));
    assert_eq!(
        health["result"]["modules"][0]["health"]["quarantined"],
        true
    );
    c.call("quarantine.release", json!({ "module": "flaky" }));
    assert_eq!(call(&mut c, "fine")["result"]["result"], 1);
}

#[test]
fn a_worker_killed_mid_call_is_replaced_and_others_are_unaffected() {
    let daemon = Daemon::start("kill", "[sandbox]\nwall_ms = 1500\ncpu_seconds = 5\n");
    let mut c = daemon.client();
    let spin = "def spin():\n    while True:\n        pass\n\ndef ok():\n    return 'still here'\n";
    c.call("module.load", json!({ "name": "spin", "source": spin }));
    load(&mut c, "calc", "calc.py");
    let r = c.call(
        "module.call",
        json!({ "module": "spin", "function": "spin", "caller": { "user": "@owner" } }),
    );
    assert_eq!(reason(&r), "timeout", "{r}");
    assert_eq!(r["error"]["data"]["layer"], "deadline");
    let again = c.call(
        "module.call",
        json!({ "module": "spin", "function": "ok", "caller": { "user": "@owner" } }),
    );
    assert_eq!(
        again["result"]["result"], "still here",
        "a fresh worker serves the module: {again}"
    );
    let other = c.call(
        "module.call",
        json!({ "module": "calc", "command": "calc", "args": "2+2", "caller": { "user": "@x" } }),
    );
    assert_eq!(other["result"]["result"], "4");
}

#[test]
fn malformed_and_oversized_lines_get_errors_and_the_connection_survives() {
    let daemon = Daemon::start_with("malformed", "max_line_bytes = 4096", "");
    let mut c = daemon.client();
    c.send_line("this is not json");
    assert_eq!(c.read()["error"]["code"], -32700);
    c.send_line(&"x".repeat(10_000));
    let long = c.read();
    assert_eq!(long["error"]["data"]["reason"], "bad_request", "{long}");
    c.send_line(r#"{"jsonrpc": "1.0", "id": 5, "method": "module.list"}"#);
    assert_eq!(c.read()["error"]["code"], -32600);
    assert_eq!(c.call("no.such.method", json!({}))["error"]["code"], -32601);
    assert!(
        c.call("module.list", json!({}))["result"].is_array(),
        "still usable"
    );
}

#[test]
fn a_rejected_module_is_never_loaded() {
    let daemon = Daemon::start("scan", "");
    let mut c = daemon.client();
    let source = std::fs::read_to_string(corpus("bad").join("subclasses_walk.py")).unwrap();
    let r = c.call("module.load", json!({ "name": "evil", "source": source }));
    assert_eq!(reason(&r), "scan_rejected");
    assert_eq!(
        r["error"]["data"]["findings"][0]["rule"],
        "forbidden-attribute"
    );
    assert_eq!(
        c.call("module.list", json!({}))["result"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn two_hundred_concurrent_clients() {
    let daemon = Daemon::start("many", "");
    load(&mut daemon.client(), "calc", "calc.py");
    let socket = daemon.socket.clone();
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&socket);
                let r = c.call("module.call", json!({ "module": "calc", "command": "calc", "args": format!("{i} + 1"), "caller": { "user": format!("@user{i}") } }));
                assert_eq!(r["result"]["result"], json!((i + 1).to_string()), "{r}");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("every client got its answer");
    }
}

#[test]
fn peers_without_a_client_rule_are_refused() {
    if pyward_worker::sys::euid() != 0 {
        eprintln!("SKIPPED (not root): needs a second uid to connect as");
        return;
    }
    use std::os::unix::process::CommandExt;
    let daemon = Daemon::start("peers", "");
    // Let the peer past the file permissions (group rw), so that the refusal we see is the
    // supervisor's own peer-credential check.
    std::os::unix::fs::chown(&daemon.socket, Some(0), Some(65534)).unwrap();
    let out = run(pyward()
        .args(["ctl", "--socket"])
        .arg(&daemon.socket)
        .arg("module.list")
        .uid(65534)
        .gid(65534));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.contains("acl_denied") && text.contains("may not use this socket"),
        "{text}"
    );
}

#[test]
fn one_shot_runs_get_a_fresh_worker_each_time() {
    let daemon = Daemon::start("oneshot", "");
    let mut c = daemon.client();
    let source = "state = []\n\ndef step(x):\n    state.append(x)\n    return len(state)\n";
    for x in 0..3 {
        let r = c.call(
            "run",
            json!({ "source": source, "function": "step", "args": [x] }),
        );
        assert_eq!(
            r["result"]["result"], 1,
            "nothing survives between runs: {r}"
        );
    }
    let rejected = c.call(
        "run",
        json!({ "source": "import os\ndef step():\n    pass\n", "function": "step" }),
    );
    assert_eq!(reason(&rejected), "scan_rejected");
}

/// `pyward serve` started as systemd starts it on socket activation: `listener` on fd 3,
/// LISTEN_FDS=1, LISTEN_PID its own pid (the shell execs pyward, keeping its pid).
fn serve_activated(
    listener: &std::os::unix::net::UnixListener,
    config: &std::path::Path,
    socket: &std::path::Path,
) -> Child {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = listener.as_raw_fd();
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" serve --config \"$1\" --socket \"$2\"")
        .arg(env!("CARGO_BIN_EXE_pyward"))
        .arg(config)
        .arg(socket)
        .stderr(Stdio::null());
    // SAFETY: between fork and exec only dup2 and fcntl, which are async-signal-safe; nothing
    // allocates. If the listener already is fd 3, dup2 would be a no-op that leaves
    // close-on-exec set, so the flag is cleared instead.
    unsafe {
        cmd.pre_exec(move || {
            let ok = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0) >= 0
            } else {
                libc::dup2(fd, 3) >= 0
            };
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    cmd.spawn().unwrap()
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory with a policy that makes this uid admin.
fn activation_dir(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("pyward-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let uid = pyward_worker::sys::uid();
    let config = dir.join("policy.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nstate_dir = \"{}\"\n\n[[clients]]\nuid = {uid}\nrole = \"admin\"\n",
            dir.join("state").display()
        ),
    )
    .unwrap();
    (dir, config)
}

#[test]
fn socket_activation_uses_the_passed_socket() {
    let (dir, config) = activation_dir("activation");
    let path = dir.join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let _daemon = Kill(serve_activated(
        &listener,
        &config,
        &dir.join("unused.sock"),
    ));
    let mut c = Client::connect(&path);
    assert!(c.call("module.list", json!({}))["result"].is_array());
    assert!(
        !dir.join("unused.sock").exists(),
        "the activated socket was used, no other was made"
    );
    drop(listener);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_graceful_stop_leaves_a_passed_socket_to_systemd() {
    // `systemctl restart pyward.service`: the socket unit keeps listening and hands the same
    // socket to the next supervisor, so its path must still be there for clients.
    let (dir, config) = activation_dir("activation-stop");
    let path = dir.join("pyward.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut daemon = Kill(serve_activated(&listener, &config, &path));
    let mut c = Client::connect(&path);
    assert!(c.call("module.list", json!({}))["result"].is_array());
    pyward_worker::sys::kill(daemon.0.id() as i32, libc::SIGTERM).unwrap();
    assert!(daemon.0.wait().unwrap().success());
    assert!(path.exists(), "the supervisor removed systemd's socket");
    drop(listener);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nothing_acknowledged_is_lost_when_the_supervisor_is_killed() {
    let mut daemon = Daemon::start("persist", "");
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    let flaky = "def boom():\n    raise ValueError('x')\n\ndef fine():\n    return 2\n";
    c.call("module.load", json!({ "name": "flaky", "source": flaky }));
    c.call("acl.grant", json!({ "user": "@bob", "module": "calc" }));
    for _ in 0..3 {
        c.call(
            "module.call",
            json!({ "module": "flaky", "function": "boom", "caller": { "user": "@owner" } }),
        );
    }
    let denied = c.call(
        "module.call",
        json!({ "module": "poll", "command": "x", "caller": { "user": "@eve" } }),
    );
    assert_eq!(reason(&denied), "not_found");
    drop(c);

    daemon.kill9_and_restart();
    let mut c = daemon.client();
    // Modules come back (reloading runs in the background at start).
    let deadline = Instant::now() + Duration::from_secs(10);
    let modules = loop {
        let list = c.call("module.list", json!({}));
        if list["result"].as_array().unwrap().len() == 2 || Instant::now() > deadline {
            break list["result"].clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let names: Vec<&str> = modules
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{modules}");
    let flaky_entry = modules
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "flaky")
        .unwrap();
    assert_eq!(
        flaky_entry["health"]["quarantined"], true,
        "the quarantine survived: {flaky_entry}"
    );
    assert_eq!(
        c.call("acl.list", json!({}))["result"][0]["user"],
        "@bob",
        "the grant survived"
    );
    let audit = audit_records(&mut c);
    let events: Vec<&str> = audit.iter().map(|r| r["event"].as_str().unwrap()).collect();
    for event in ["loaded", "grant", "quarantined"] {
        assert!(events.contains(&event), "audit lost {event}: {events:?}");
    }
    // And the reloaded modules work.
    c.call("quarantine.release", json!({ "module": "flaky" }));
    assert_eq!(
        c.call(
            "module.call",
            json!({ "module": "flaky", "function": "fine", "caller": { "user": "@owner" } })
        )["result"]["result"],
        2
    );
    assert_eq!(c.call("module.call", json!({ "module": "calc", "command": "calc", "args": "1+1", "caller": { "user": "@bob" } }))["result"]["result"], "2");
}

#[test]
fn policy_reload_applies_new_limits_and_rules_and_refuses_a_bad_file() {
    let daemon = Daemon::start("reload", "");
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    load(&mut c, "ping", "ping.py");
    let call = |c: &mut Client| {
        c.call(
            "module.call",
            json!({ "module": "ping", "command": "ping", "caller": { "user": "@a" } }),
        )
    };
    assert!(call(&mut c)["result"].is_object());

    let original = std::fs::read_to_string(&daemon.config).unwrap();
    // `calc` imports `re`; the new rules do not allow it. And one call a minute.
    let stricter = format!(
        "{original}\n[scan]\nallowed_imports = [\"json\", \"time\", \"math\", \"pyward\"]\n\n[rate_limit]\ncalls_per_window = 1\nwindow_seconds = 60\n"
    );
    std::fs::write(&daemon.config, stricter).unwrap();
    let reloaded = c.call("policy.reload", json!({}));
    assert_eq!(
        reloaded["result"]["unloaded"],
        json!(["calc"]),
        "{reloaded}"
    );
    assert!(
        call(&mut c)["result"].is_object(),
        "a fresh worker from the new zygote"
    );
    assert_eq!(
        reason(&call(&mut c)),
        "rate_limited",
        "the new limit applies"
    );

    std::fs::write(
        &daemon.config,
        format!("{original}\n[sandbox]\nmemory_mb = 1\n"),
    )
    .unwrap();
    let refused = c.call("policy.reload", json!({}));
    assert_eq!(reason(&refused), "bad_request");
    assert!(
        refused["error"]["data"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("sandbox.memory_mb"),
        "{refused}"
    );
    assert_eq!(reason(&call(&mut c)), "rate_limited", "nothing changed");
}

#[test]
fn health_reports_the_machine_and_tiers_limit_host_calls() {
    // Declaring tiers replaces the default ones, so `community` (the default tier) is declared too.
    let tiers = "[tiers.community]\nhost_calls = [\"reply\", \"log\"]\n\n[tiers.mute]\nhost_calls = [\"log\"]\n";
    let daemon = Daemon::start("tiers", tiers);
    let mut c = daemon.client();
    let health = c.call("health", json!({}));
    assert!(
        health["result"]["machine"]["kernel"].is_string(),
        "{health}"
    );
    let source = "import pyward\n\ndef can_reply():\n    return hasattr(pyward, 'reply')\n\ndef try_reply():\n    pyward.reply('hi')\n";
    c.call(
        "module.load",
        json!({ "name": "mute", "source": source, "tier": "mute" }),
    );
    let r = c.call(
        "module.call",
        json!({ "module": "mute", "function": "can_reply", "caller": { "user": "@owner" } }),
    );
    assert_eq!(
        r["result"]["result"], false,
        "the function does not exist for this tier"
    );
    let r = c.call(
        "module.call",
        json!({ "module": "mute", "function": "try_reply", "caller": { "user": "@owner" } }),
    );
    assert_eq!(reason(&r), "module_error", "{r}");
    assert!(
        r["error"]["data"]["detail"]
            .as_str()
            .unwrap()
            .contains("has no attribute 'reply'")
    );
}

#[test]
fn each_worker_gets_its_own_cgroup_where_the_supervisor_can_make_one() {
    let daemon = Daemon::start("cgroups", "[sandbox]\nwall_ms = 1500\n");
    let mut c = daemon.client();
    let support = c.call("health", json!({}))["result"]["cgroups"].clone();
    if support.is_null() {
        skip_unless_expected("cgroup", "this supervisor's cgroup cannot take sub-groups");
        return;
    }
    assert_eq!(support["per_worker_groups"], true, "{support}");
    load(&mut c, "calc", "calc.py");
    let listed = c.call("module.list", json!({}));
    let worker = &listed["result"][0]["worker"];
    let pid = worker["pid"].as_i64().unwrap();
    let group = PathBuf::from(worker["cgroup"].as_str().unwrap());
    assert!(group.is_dir(), "{worker}");
    let name = group.file_name().unwrap().to_str().unwrap().to_string();
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        membership.contains(&name),
        "worker {pid} is in {membership}, not {name}"
    );
    c.call("module.unload", json!({ "name": "calc" }));
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !group.exists()
    });
    assert!(gone, "the group {} outlived its worker", group.display());

    // A deadline kill takes the group with it.
    c.call(
        "module.load",
        json!({ "name": "spin", "source": "def spin():\n    while True:\n        pass\n" }),
    );
    let spin_group = c.call("module.list", json!({}))["result"][0]["worker"]["cgroup"]
        .as_str()
        .map(PathBuf::from)
        .unwrap();
    let r = c.call(
        "module.call",
        json!({ "module": "spin", "function": "spin", "caller": { "user": "@owner" } }),
    );
    assert_eq!(reason(&r), "timeout");
    assert!(
        !spin_group.exists(),
        "the killed worker's group was removed"
    );
}

#[test]
fn status_shows_modules_health_and_layers() {
    let daemon = Daemon::start("status", "");
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    c.call(
        "module.load",
        json!({ "name": "flaky", "source": "def boom():\n    raise ValueError('x')\n" }),
    );
    for _ in 0..3 {
        c.call(
            "module.call",
            json!({ "module": "flaky", "function": "boom", "caller": { "user": "@owner" } }),
        );
    }
    let out = run(pyward().args(["status", "--socket"]).arg(&daemon.socket));
    let table = stdout(&out);
    assert!(out.status.success(), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("calc") && l.contains("running")),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("flaky")
            && l.contains("QUARANTINED")
            && l.contains("ValueError")),
        "{table}"
    );
    assert!(table.contains("layers: landlock"), "{table}");
    let out = run(pyward()
        .args(["status", "--json", "--socket"])
        .arg(&daemon.socket));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["modules"].as_array().unwrap().len(), 2);
}

#[test]
fn a_dead_zygote_is_replaced() {
    let daemon = Daemon::start("zygote-death", "");
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    // The zygote is the supervisor's child named pyward-zygote.
    let supervisor = daemon.child.id();
    let zygote = processes()
        .into_iter()
        .find(|&(pid, parent, _)| {
            parent == supervisor
                && std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default()
                    == "pyward-zygote\n"
        })
        .map(|(pid, ..)| pid as i32)
        .expect("the supervisor has a zygote");
    pyward_worker::sys::kill(zygote, libc::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // The module's idle worker died with its zygote. The next call finds it gone before using
    // it, and the supervisor starts a new zygote and worker: no call fails.
    let started = Instant::now();
    for _ in 0..2 {
        let r = c.call("module.call", json!({ "module": "calc", "command": "calc", "args": "2+3", "caller": { "user": "@u" } }));
        assert_eq!(r["result"]["result"], "5", "{r}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no long stall waiting on the dead zygote"
    );
    let audit = audit_records(&mut c);
    let events: Vec<&str> = audit.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"worker_replaced"), "{events:?}");
    assert!(events.contains(&"zygote_restarted"), "{events:?}");
    let health = c.call("health", json!({}));
    assert_eq!(
        health["result"]["modules"][0]["health"]["consecutive_failures"], 0,
        "a worker killed from outside while idle is not the module's failure: {health}"
    );
}

#[test]
fn many_calls_never_add_up_to_a_cpu_limit_kill() {
    // RLIMIT_CPU counts a worker's whole life; the supervisor replaces a worker once it has
    // used half its budget, so six calls of 0.3 s each under a 1 s budget all succeed.
    let daemon = Daemon::start("cpu-budget", "[sandbox]\ncpu_seconds = 1\nwall_ms = 3000\n");
    let mut c = daemon.client();
    let burn = "import time\n\ndef burn():\n    start = time.process_time()\n    while time.process_time() - start < 0.3:\n        pass\n    return 'done'\n";
    c.call("module.load", json!({ "name": "burn", "source": burn }));
    for round in 0..6 {
        let r = c.call(
            "module.call",
            json!({ "module": "burn", "function": "burn", "caller": { "user": "@owner" } }),
        );
        assert_eq!(r["result"]["result"], "done", "round {round}: {r}");
    }
    // One call over the whole budget is still stopped.
    let hog = "def hog():\n    while True:\n        pass\n";
    c.call("module.load", json!({ "name": "hog", "source": hog }));
    let r = c.call(
        "module.call",
        json!({ "module": "hog", "function": "hog", "caller": { "user": "@owner" } }),
    );
    assert_eq!(reason(&r), "timeout", "{r}");
}

/// SIGKILL the supervisor while clients are calling: every caller gets its answers and then
/// sees the connection close (nobody hangs), and no zygote or worker outlives the supervisor.
#[test]
fn no_worker_outlives_a_supervisor_killed_under_load() {
    let mut daemon = Daemon::start(
        "killed-under-load",
        "[rate_limit]\ncalls_per_window = 1000000\nwindow_seconds = 60\n",
    );
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    load(&mut c, "calc2", "calc.py");
    let answers: std::sync::Arc<[std::sync::atomic::AtomicU32; 4]> = Default::default();
    let callers: Vec<_> = (0..4)
        .map(|i| {
            let socket = daemon.socket.clone();
            let answers = answers.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(&socket);
                let module = if i % 2 == 0 { "calc" } else { "calc2" };
                let mut answered = 0u32;
                for id in 1.. {
                    let request = json!({ "jsonrpc": "2.0", "id": id, "method": "module.call", "params": { "module": module, "command": "calc", "args": "6*7", "caller": { "user": "@owner" } } });
                    if writeln!(client.writer, "{request}").is_err() {
                        return answered;
                    }
                    let mut line = String::new();
                    match client.reader.read_line(&mut line) {
                        // Closed, possibly mid-reply when the kill came during a write.
                        Ok(_) if !line.ends_with('\n') => return answered,
                        Ok(_) => {
                            let reply: Value = serde_json::from_str(&line).unwrap();
                            assert_eq!(reply["result"]["result"], "42", "{reply}");
                            answered += 1;
                            answers[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                            return answered;
                        }
                        Err(e) => panic!("caller {i} got neither an answer nor a close: {e}"),
                    }
                }
                unreachable!()
            })
        })
        .collect();
    // Under load: every caller has been answered a few times.
    let deadline = Instant::now() + Duration::from_secs(20);
    while answers
        .iter()
        .any(|a| a.load(std::sync::atomic::Ordering::Relaxed) < 10)
    {
        assert!(Instant::now() < deadline, "the callers were not answered");
        std::thread::sleep(Duration::from_millis(20));
    }
    let supervisor = daemon.child.id();
    let children = descendants_of(supervisor);
    assert!(
        children.len() >= 3,
        "a zygote and two workers run: {children:?}"
    );
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    for caller in callers {
        assert!(
            caller.join().unwrap() > 0,
            "each caller was answered before the kill"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive: Vec<_> = processes()
            .into_iter()
            .filter(|p| children.contains(&p.0) && p.2 != 'Z')
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "outlived the supervisor: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A supervisor again, for Drop to stop.
    daemon.child = Daemon::spawn(&daemon.dir, &daemon.config, &daemon.socket);
}
