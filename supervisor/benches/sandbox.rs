//! Sandboxed start-up through a warm zygote, and what idle workers cost in memory.
//! Run by `scripts/bench-run` (or `cargo bench -p pyward --bench sandbox -- [RUNS]`); prints one
//! JSON object per figure so the script can put them beside the other tools'.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyward_policy::Policy;
use pyward_worker::link::Json;
use pyward_worker::process::WorkerProcess;
use pyward_worker::runtime::Target;
use pyward_worker::zygote::{self, ZygoteClient};

const TRIVIAL: &str = "import json\ndef main():\n    print(json.dumps({'a': 1}))\n";

fn worker(zygote: &zygote::SharedZygote, policy: &Policy) -> WorkerProcess {
    zygote::spawn_worker(zygote, &policy.sandbox).expect("the zygote forks a worker")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// (RSS, PSS) in KiB from /proc/PID/smaps_rollup.
fn memory(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Rss:"), field("Pss:"))
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    let policy = Policy::default();
    let exe = Path::new(env!("CARGO_BIN_EXE_pyward"));
    let started = Instant::now();
    let zygote = Arc::new(Mutex::new(ZygoteClient::start(exe, None).expect("zygote")));
    let zygote_start_ms = started.elapsed().as_secs_f64() * 1e3;
    let warm_ms = zygote.lock().unwrap().warm_ms;
    let granted: BTreeSet<_> = policy.host_calls(&policy.default_tier);

    // Request to a warm zygote -> confined worker -> module loaded -> result.
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs + 10 {
        let t = Instant::now();
        let mut w = worker(&zygote, &policy);
        w.wait_ready().expect("ready");
        let deadline = Instant::now() + Duration::from_secs(5);
        w.load("trivial", TRIVIAL, &granted, deadline)
            .unwrap()
            .unwrap();
        let out = w
            .call(
                &Target::Function("main".into()),
                "[]".parse().unwrap(),
                Json::null(),
                deadline,
                &mut |_, _| Ok(Json::null()),
            )
            .unwrap();
        assert_eq!(out.stdout, "{\"a\": 1}\n");
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        drop(w);
    }
    let mut samples: Vec<f64> = samples.split_off(10); // the first few warm the page cache
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{}",
        serde_json::json!({
            "figure": "zygote_path",
            "runs": samples.len(),
            "p50_ms": percentile(&samples, 0.5),
            "p99_ms": percentile(&samples, 0.99),
            "mean_ms": samples.iter().sum::<f64>() / samples.len() as f64,
            "zygote_start_ms": zygote_start_ms,
            "zygote_warm_ms": warm_ms,
        })
    );

    // Memory: one idle worker, then 100 idle workers forked from the same zygote.
    let zygote_pid = zygote.lock().unwrap().pid() as i32;
    let (zygote_rss, zygote_pss_alone) = memory(zygote_pid);
    let mut idle = Vec::new();
    for _ in 0..100 {
        let mut w = worker(&zygote, &policy);
        w.wait_ready().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        w.load("trivial", TRIVIAL, &granted, deadline)
            .unwrap()
            .unwrap();
        idle.push(w);
    }
    std::thread::sleep(Duration::from_millis(200));
    let per: Vec<(u64, u64)> = idle.iter().map(|w| memory(w.pid())).collect();
    let (one_rss, one_pss) = per[0];
    let total_rss: u64 = per.iter().map(|m| m.0).sum();
    let total_pss: u64 = per.iter().map(|m| m.1).sum();
    println!(
        "{}",
        serde_json::json!({
            "figure": "memory",
            "zygote_rss_kib": zygote_rss,
            "zygote_pss_kib_alone": zygote_pss_alone,
            "one_idle_worker_rss_kib": one_rss,
            "one_idle_worker_pss_kib": one_pss,
            "hundred_idle_workers_rss_kib": total_rss,
            "hundred_idle_workers_pss_kib": total_pss,
        })
    );
}
