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
//! this 2-core machine); the median of five runs is printed.

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

fn scan_files(files: &[PathBuf], rules: &ScanRules, threads: usize) -> usize {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
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
                    rejected
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
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
    let rejected = scan_files(&files, &rules, 1);
    println!(
        "{} files, {mb:.1} MB, {rejected} rejected under the default policy",
        files.len()
    );
    for threads in [1, 2] {
        let mut times: Vec<Duration> = (0..5)
            .map(|_| {
                let start = Instant::now();
                scan_files(&files, &rules, threads);
                start.elapsed()
            })
            .collect();
        times.sort();
        let median = times[2].as_secs_f64();
        println!(
            "{threads} thread(s): {median:.3} s  {:.1} MB/s  {:.0} files/s (median of 5)",
            mb / median,
            files.len() as f64 / median
        );
    }
}
