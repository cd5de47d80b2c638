//! Faults from outside, one at a time: a worker killed while idle, a full state disk, the
//! supervisor out of file descriptors, and signals. Each test checks that callers get an answer
//! or a clear error, that nothing acknowledged is lost, and that the daemon recovers by itself.
//! `scripts/fault-inject` throws the same faults at random under load.

mod common;

use std::io::{BufRead, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;
use serde_json::{Value, json};

fn calc(c: &mut Client, user: &str) -> Value {
    c.call(
        "module.call",
        json!({ "module": "calc", "command": "calc", "args": "2+3", "caller": { "user": user } }),
    )
}

#[test]
fn a_worker_killed_while_idle_is_replaced_without_a_failure() {
    let daemon = Daemon::start("idle-kill", "");
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    let list = c.call("module.list", json!({}));
    let pid = list["result"][0]["worker"]["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("a worker pid in {list}"));
    pyward_worker::sys::kill(pid as i32, libc::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(calc(&mut c, "@u")["result"]["result"], "5");
    let list = c.call("module.list", json!({}));
    assert_ne!(list["result"][0]["worker"]["pid"], json!(pid), "{list}");
    assert_eq!(
        list["result"][0]["health"]["consecutive_failures"], 0,
        "{list}"
    );
    let replaced = audit_records(&mut c)
        .into_iter()
        .find(|r| r["event"] == "worker_replaced")
        .expect("the replacement is audited");
    assert_eq!(replaced["ending"]["signal"], libc::SIGKILL, "{replaced}");
}

/// A tmpfs of `bytes` mounted on a directory for as long as this lives (root only).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, bytes: u64) -> SmallDisk {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0700"))
            .arg("pyward-test")
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount a tmpfs on {}", dir.display());
        SmallDisk(dir.to_path_buf())
    }

    /// Fill what is left; returns the filler file.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0xa5u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", filler.display()),
            }
        }
        // Whatever partial block is left too.
        while let Ok(n) = f.write(&block[..512]) {
            if n == 0 {
                break;
            }
        }
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_state_disk_refuses_changes_clearly_keeps_serving_and_recovers() {
    if pyward_worker::sys::euid() != 0 {
        skip_unless_expected(
            "root",
            "mounting a small tmpfs for the state directory needs root",
        );
        return;
    }
    let mut disk = None;
    let mut daemon = Daemon::start_prepared("disk-full", "", "", |state| {
        disk = Some(SmallDisk::mount(state, 4 << 20));
    });
    let disk = disk.unwrap();
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    load(&mut c, "poll", "poll.py");
    let boom = "def boom():\n    raise ValueError('boom')\n";
    c.call("module.load", json!({ "name": "boom", "source": boom }));
    let filler = disk.fill();

    // Grants with long names until the disk refuses one: each is acknowledged or refused with
    // an error that says what was not done and why.
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for i in 0..2000 {
        let user = format!("@user{i}-{}", "x".repeat(2000));
        let r = c.call("acl.grant", json!({ "user": user, "module": "calc" }));
        if r.get("result").is_some() {
            acknowledged.push(user);
            continue;
        }
        assert_eq!(reason(&r), "internal", "{r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("cannot record `grant`, so it was not done")
                && message.contains("disk"),
            "{r}"
        );
        refused += 1;
        if refused == 3 {
            break;
        }
    }
    assert_eq!(refused, 3, "a full disk refused grants");

    // Calls go on: a success writes nothing at once; a refusal is answered, and says whether
    // its audit record was written.
    assert_eq!(calc(&mut c, "@u")["result"]["result"], "5");
    let denied = c.call("module.call", json!({ "module": "poll", "command": "poll", "args": "a | b | c", "caller": { "user": "@nobody" } }));
    assert_eq!(reason(&denied), "acl_denied", "{denied}");
    let denied_recorded = denied["error"]["data"].get("audit_failed").is_none();
    // A failed call keeps its own reason; the health it could not write is said beside it.
    let failed = c.call(
        "module.call",
        json!({ "module": "boom", "function": "boom", "caller": { "user": "@owner" } }),
    );
    assert_eq!(reason(&failed), "module_error", "{failed}");
    assert!(
        failed["error"]["data"]["health_not_recorded"]
            .as_str()
            .is_some_and(|m| m.contains("disk is full")),
        "{failed}"
    );

    // Space again: the daemon recovers without a restart.
    std::fs::remove_file(filler).unwrap();
    let r = c.call("acl.grant", json!({ "user": "@after", "module": "calc" }));
    assert!(r.get("result").is_some(), "{r}");
    acknowledged.push("@after".into());

    // Everything acknowledged survives a SIGKILL, with its audit record; nothing refused was
    // written.
    daemon.kill9_and_restart();
    let mut c = daemon.client();
    let grants = c.call("acl.list", json!({}));
    let granted: Vec<&str> = grants["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["user"].as_str().unwrap())
        .collect();
    assert_eq!(granted, acknowledged, "exactly the acknowledged grants");
    let audit = audit_records(&mut c);
    let recorded: Vec<&str> = audit
        .iter()
        .filter(|r| r["event"] == "grant")
        .map(|r| r["grant"]["user"].as_str().unwrap())
        .collect();
    assert_eq!(recorded, acknowledged, "one audit record per grant");
    let denial_found = audit
        .iter()
        .any(|r| r["event"] == "acl_denied" && r["user"] == "@nobody");
    assert!(
        denial_found || !denied_recorded,
        "the denial said it was recorded"
    );
    drop(disk);
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Set the soft limit only: lowering it and raising it back needs no privilege.
fn set_nofile(pid: u32, limit: usize) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={limit}:"))
        .status()
        .expect("prlimit runs");
    assert!(status.success(), "prlimit --nofile={limit} on {pid}");
}

#[test]
fn out_of_file_descriptors_new_connections_wait_and_nothing_is_lost() {
    let daemon = Daemon::start("fd-exhaustion", "");
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    let pid = daemon.child.id();
    let (soft, _) =
        pyward_worker::sys::get_rlimit(pyward_worker::sandbox::rlimits::Resource::RLIMIT_NOFILE)
            .unwrap();
    set_nofile(pid, open_fds(pid) + 4);

    // More connections than the supervisor has descriptors for: the kernel queues them all;
    // the supervisor accepts what it can and leaves the rest waiting.
    let waiting: Vec<UnixStream> = (0..12)
        .map(|_| UnixStream::connect(&daemon.socket).unwrap())
        .collect();
    let log = daemon.dir.join("serve.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("\"accept_failed\"")
    {
        assert!(
            Instant::now() < deadline,
            "the supervisor ran out of descriptors"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(daemon_alive(&daemon), "the supervisor is still running");

    // A connected client is still served: calls into a warm worker need no new descriptor.
    assert_eq!(calc(&mut c, "@u")["result"]["result"], "5");
    // A new worker needs descriptors: a clear error names the resource.
    let r = c.call(
        "module.load",
        json!({ "name": "calc2", "source": "x = 1\n" }),
    );
    assert_eq!(reason(&r), "internal", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("out of resources"),
        "{r}"
    );

    // Descriptors again: the last queued connection is accepted and served.
    set_nofile(pid, soft as usize);
    let mut last = waiting.into_iter().last().unwrap();
    last.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    writeln!(last, r#"{{"jsonrpc":"2.0","id":1,"method":"module.call","params":{{"module":"calc","command":"calc","args":"6*7","caller":{{"user":"@late"}}}}}}"#).unwrap();
    let mut line = String::new();
    std::io::BufReader::new(&last).read_line(&mut line).unwrap();
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(reply["result"]["result"], "42", "{reply}");
    let r = c.call(
        "module.load",
        json!({ "name": "calc2", "source": "x = 1\n" }),
    );
    assert!(r.get("result").is_some(), "{r}");
}

fn daemon_alive(daemon: &Daemon) -> bool {
    std::fs::metadata(format!("/proc/{}", daemon.child.id())).is_ok()
}

#[test]
fn signals_reload_pause_or_stop_the_supervisor_cleanly() {
    let mut daemon = Daemon::start("signals", "");
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    let pid = daemon.child.id() as i32;

    // SIGPIPE is ignored (Rust's runtime ignores it; a vanished client is an EPIPE).
    pyward_worker::sys::kill(pid, libc::SIGPIPE).unwrap();
    assert_eq!(calc(&mut c, "@u")["result"]["result"], "5");

    // SIGHUP reloads the policy file, as `policy.reload` would.
    pyward_worker::sys::kill(pid, libc::SIGHUP).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !audit_records(&mut c)
        .iter()
        .any(|r| r["event"] == "policy_reloaded")
    {
        assert!(Instant::now() < deadline, "SIGHUP reloaded the policy");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(calc(&mut c, "@u")["result"]["result"], "5");

    // SIGSTOP, then SIGCONT: a call sent meanwhile is answered after.
    pyward_worker::sys::kill(pid, libc::SIGSTOP).unwrap();
    let socket = daemon.socket.clone();
    let paused = std::thread::spawn(move || calc(&mut Client::connect(&socket), "@p"));
    std::thread::sleep(Duration::from_millis(300));
    pyward_worker::sys::kill(pid, libc::SIGCONT).unwrap();
    assert_eq!(paused.join().unwrap()["result"]["result"], "5");

    // SIGINT stops it as SIGTERM does: exit 0, socket removed, no zygote or worker left.
    let children = descendants_of(pid as u32);
    assert!(!children.is_empty());
    pyward_worker::sys::kill(pid, libc::SIGINT).unwrap();
    let status = daemon.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!daemon.socket.exists(), "the socket was removed");
    let deadline = Instant::now() + Duration::from_secs(5);
    while processes()
        .iter()
        .any(|p| children.contains(&p.0) && p.2 != 'Z')
    {
        assert!(Instant::now() < deadline, "a child outlived the supervisor");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A supervisor again, for Drop to stop.
    daemon.child = Daemon::spawn(&daemon.dir, &daemon.config, &daemon.socket);
}
