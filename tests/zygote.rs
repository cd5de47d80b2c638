//! The zygote path end to end: one warm zygote forks confined workers that serve calls, reports
//! how each ended, and takes its workers with it when it dies.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyward_policy::Policy;
use pyward_policy::config::HostCall;
use pyward_worker::link::Json;
use pyward_worker::process::WorkerProcess;
use pyward_worker::runtime::Target;
use pyward_worker::verdict::{self, Layer, Status};
use pyward_worker::zygote::{self, ZygoteClient};

fn worker(zygote: &zygote::SharedZygote, policy: &Policy) -> WorkerProcess {
    zygote::spawn_worker(zygote, &policy.sandbox).expect("the zygote forks a worker")
}

fn start(config: Option<&Path>) -> zygote::SharedZygote {
    let exe = Path::new(env!("CARGO_BIN_EXE_pyward"));
    Arc::new(Mutex::new(
        ZygoteClient::start(exe, config).expect("the zygote starts"),
    ))
}

#[test]
fn zygote_workers_serve_calls_under_the_full_sandbox() {
    let policy = Policy::default();
    let zygote = start(None);
    let granted: BTreeSet<HostCall> = policy.host_calls("community");
    for round in 0..3 {
        let mut w = worker(&zygote, &policy);
        let sandbox = w.wait_ready().expect("the worker confines itself");
        assert!(sandbox.seccomp && sandbox.no_new_privs && sandbox.fds_closed);
        if pyward_worker::sys::landlock_abi().is_ok() {
            assert!(sandbox.landlock.is_some(), "{sandbox:?}");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let loaded = w
            .load(
                "m",
                "import json\ndef f(n):\n    return json.dumps({'n': n})\n",
                &granted,
                deadline,
            )
            .unwrap()
            .unwrap();
        assert!(loaded.commands.is_empty());
        let out = w
            .call(
                &Target::Function("f".into()),
                format!("[{round}]").parse().unwrap(),
                Json::null(),
                deadline,
                &mut |_, _| Ok(Json::null()),
            )
            .unwrap();
        assert_eq!(
            out.result_json(),
            Some(format!("\"{{\\\"n\\\": {round}}}\"").as_str())
        );
    }
}

#[test]
fn the_zygote_reports_how_a_worker_ended() {
    let config = common::repo_root().join("tests/escapes/policy.toml");
    let policy = Policy::load(&config).unwrap();
    let zygote = start(Some(&config));
    let mut w = worker(&zygote, &policy);
    w.wait_ready().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    w.load(
        "bomb",
        "def f():\n    return [0] * (10 ** 9)\n",
        &BTreeSet::new(),
        deadline,
    )
    .unwrap()
    .unwrap();
    // CPython turns the refused allocation into MemoryError (the worker lives on); an
    // allocation failing outside the interpreter ends the worker instead. Either way the
    // verdict names the memory limit.
    let v = match w.call(
        &Target::Function("f".into()),
        "[]".parse().unwrap(),
        Json::null(),
        deadline,
        &mut |_, _| Ok(Json::null()),
    ) {
        Ok(outcome) => verdict::from_outcome(&outcome),
        Err(failure) => verdict::from_failure(&failure, &policy.sandbox),
    };
    assert_eq!(v.status, Status::MemoryLimit, "{v:?}");
    assert_eq!(v.layer, Some(Layer::Rlimit));
}

#[test]
fn no_worker_outlives_its_zygote() {
    let policy = Policy::default();
    let zygote = start(None);
    let mut w = worker(&zygote, &policy);
    w.wait_ready().unwrap();
    let pid = w.pid();
    let zygote_pid = zygote.lock().unwrap().pid();
    pyward_worker::sys::kill(zygote_pid as i32, libc::SIGKILL).unwrap();
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    assert!(gone, "worker {pid} survived its zygote");
    std::mem::forget(w);
}

#[test]
fn every_worker_draws_its_own_random_sequence() {
    // Workers fork from one warm interpreter; CPython's at-fork handlers reseed `random` in
    // each child, so two modules, and a worker that replaces a dead one, never share a sequence.
    let policy = Policy::default();
    let zygote = start(None);
    let source = "import random\ndef draw():\n    return [random.random() for _ in range(4)]\n";
    let draw = |w: &mut WorkerProcess| -> String {
        w.wait_ready().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        w.load("dice", source, &BTreeSet::new(), deadline)
            .unwrap()
            .unwrap();
        w.call(
            &Target::Function("draw".into()),
            "[]".parse().unwrap(),
            Json::null(),
            deadline,
            &mut |_, _| Ok(Json::null()),
        )
        .unwrap()
        .result_json()
        .unwrap()
        .to_string()
    };
    let mut first = worker(&zygote, &policy);
    let mut second = worker(&zygote, &policy);
    let a = draw(&mut first);
    let b = draw(&mut second);
    assert_ne!(a, b, "two workers drew the same sequence");
    first.kill_and_reap();
    let mut replacement = worker(&zygote, &policy);
    let c = draw(&mut replacement);
    assert!(
        c != a && c != b,
        "the replaced worker repeats a sequence: {c}"
    );
}
