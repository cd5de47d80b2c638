//! Scan throughput in the policy crate, without building the `pyward` binary (which compiles the
//! whole workspace). Compare with the CPython `ast` walker on the same files:
//!
//! ```text
//! scripts/bench-scan --generate /tmp/pyward-bench-corpus
//! PYWARD_BENCH_DIR=/tmp/pyward-bench-corpus cargo test -p pyward-policy --release \
//!     --test scan_throughput -- --ignored --nocapture
//! python3 scripts/bench/ast_walker.py /tmp/pyward-bench-corpus
//! ```
//!
//! Each run reads every file and scans it, on one thread and on two (as `pyward scan` does on
//! this 2-core machine). Printed: the median and the best wall time of seven runs, and the best
//! CPU time (summed over the scanning threads, from `/proc/thread-self/schedstat`), which other
//! jobs on a shared machine disturb much less than wall time. Compare the CPU figure with the
//! walker's user+system time (`/usr/bin/time -f "%U %S"`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pyward_policy::Policy;
use pyward_policy::scan::{self, ScanRules};

fn files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    files
}

/// This thread's CPU time so far.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// Scan every file on `threads` threads: (files rejected, CPU time of the scanning threads).
fn scan_files(files: &[PathBuf], rules: &ScanRules, threads: usize) -> (usize, Duration) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let cpu = thread_cpu();
                    let mut rejected = 0;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(file) = files.get(i) else {
                            break;
                        };
                        let bytes = std::fs::read(file).unwrap();
                        let report = scan::scan_source(&file.to_string_lossy(), &bytes, rules);
                        rejected += usize::from(!report.is_clean());
                    }
                    (rejected, thread_cpu() - cpu)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, Duration::ZERO), |(r, c), (r2, c2)| (r + r2, c + c2))
    })
}

#[test]
#[ignore = "a benchmark; set PYWARD_BENCH_DIR and run with --release -- --ignored --nocapture"]
fn scan_throughput() {
    let Ok(dir) = std::env::var("PYWARD_BENCH_DIR") else {
        eprintln!("SKIPPED: PYWARD_BENCH_DIR is not set (scripts/bench-scan --generate DIR)");
        return;
    };
    let files = files(&dir);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let mb = bytes as f64 / (1024.0 * 1024.0);
    let rules = Policy::default().scan;
    let (rejected, _) = scan_files(&files, &rules, 1);
    println!(
        "{} files, {mb:.1} MB, {rejected} rejected under the default policy",
        files.len()
    );
    for threads in [1, 2] {
        let mut walls = Vec::new();
        let mut cpus = Vec::new();
        for _ in 0..7 {
            let start = Instant::now();
            let (_, cpu) = scan_files(&files, &rules, threads);
            walls.push(start.elapsed().as_secs_f64());
            cpus.push(cpu.as_secs_f64());
        }
        walls.sort_by(f64::total_cmp);
        cpus.sort_by(f64::total_cmp);
        let (median, best, cpu) = (walls[3], walls[0], cpus[0]);
        println!(
            "{threads} thread(s): wall {median:.3} s median, {best:.3} s best ({:.1} MB/s, \
             {:.0} files/s); CPU {cpu:.3} s best ({:.1} MB/s of CPU)",
            mb / best,
            files.len() as f64 / best,
            mb / cpu
        );
    }
}
