//! No secret of whoever started pyward reaches a worker's memory: a variable set in the
//! environment of `pyward run` and of `pyward serve` is absent from the worker's (and the
//! zygote's) `/proc/PID/environ`. (That the worker cannot find it anywhere in its own stack or
//! heap either is the native probe's `caller_secret_in_memory` attempt.)

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;
use serde_json::json;

const SECRET: &str = "pyward-caller-secret-93c1f7";

const SLEEPER: &str = "import time\nimport pyward\n\n@pyward.command('nap', security='everyone')\ndef nap(event, args):\n    time.sleep(1.5)\n    return 'rested'\n\ndef snooze():\n    time.sleep(1.5)\n    return 'rested'\n";

fn environ_of(pid: u32) -> Option<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/environ")).ok()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Wait until `root` has at least `n` descendants; return them.
fn wait_for_descendants(root: u32, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = descendants_of(root);
        if found.len() >= n || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn need_root() -> bool {
    if pyward_worker::sys::euid() != 0 {
        skip_unless_expected(
            "root",
            "a confined worker's /proc/PID/environ is readable only by root",
        );
        return false;
    }
    true
}

#[test]
fn a_secret_in_pyward_runs_environment_never_reaches_the_worker() {
    if !need_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("pyward-secret-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("sleeper.py");
    std::fs::write(&module, SLEEPER).unwrap();
    let child = pyward()
        .args(["run", "--json"])
        .arg(&module)
        .args(["--call", "snooze"])
        .env("PYWARD_CALLER_SECRET", SECRET)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let workers = wait_for_descendants(child.id(), 1);
    assert_eq!(workers.len(), 1, "pyward run forked one worker");
    // Wait until it is confined and running the module (it sleeps 1.5 s there).
    std::thread::sleep(Duration::from_millis(500));
    let environ = environ_of(workers[0]).expect("root reads the worker's environ");
    assert!(
        !contains(&environ, SECRET) && !contains(&environ, "PYWARD_CALLER_SECRET"),
        "the worker's environ holds the caller's variable: {:?}",
        String::from_utf8_lossy(&environ)
    );
    let out = child.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result"], "rested", "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_secret_in_pyward_serves_environment_never_reaches_the_zygote_or_a_worker() {
    if !need_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("pyward-secret-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let socket = dir.join("pyward.sock");
    let config = dir.join("policy.toml");
    let mut policy = std::fs::File::create(&config).unwrap();
    write!(
        policy,
        "[server]\nsocket = \"{}\"\nstate_dir = \"{}\"\n\n[[clients]]\nuid = 0\nrole = \"admin\"\n",
        socket.display(),
        dir.join("state").display()
    )
    .unwrap();
    drop(policy);
    let mut serve = pyward()
        .args(["serve", "--config"])
        .arg(&config)
        .env("PYWARD_CALLER_SECRET", SECRET)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = Client::connect(&socket);
    let loaded = c.call(
        "module.load",
        json!({ "name": "sleeper", "source": SLEEPER }),
    );
    assert!(loaded["result"].is_object(), "{loaded}");
    let socket_for_call = socket.clone();
    let caller = std::thread::spawn(move || {
        let mut c = Client::connect(&socket_for_call);
        c.call(
            "module.call",
            json!({ "module": "sleeper", "command": "nap", "args": "", "caller": { "user": "@u" } }),
        )
    });
    // The zygote and the module's worker.
    let processes = wait_for_descendants(serve.id(), 2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(processes.len() >= 2, "a zygote and a worker: {processes:?}");
    for pid in &processes {
        let environ = environ_of(*pid).unwrap_or_default();
        assert!(
            !contains(&environ, SECRET) && !contains(&environ, "PYWARD_CALLER_SECRET"),
            "process {pid} under the supervisor holds its environment: {:?}",
            String::from_utf8_lossy(&environ)
        );
    }
    let answer = caller.join().unwrap();
    assert_eq!(answer["result"]["result"], "rested", "{answer}");
    let _ = pyward_worker::sys::kill(serve.id() as i32, libc::SIGTERM);
    let _ = serve.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
