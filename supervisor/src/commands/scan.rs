//! `pyward scan`: the static scanner over files and directories.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::atomic::{AtomicUsize, Ordering};

use pyward_policy::scan::{self, FileReport, ScanSummary};

use super::{EXIT_ERROR, load_policy};
use crate::cli::{Format, ScanArgs};

pub fn run(args: ScanArgs) -> ExitCode {
    let policy = match load_policy(args.config.as_deref()) {
        Ok(policy) => policy,
        Err(code) => return code,
    };
    let mut files = Vec::new();
    for path in &args.paths {
        if let Err(e) = collect(path, &mut files) {
            eprintln!("pyward: cannot read {}: {e}", path.display());
            return ExitCode::from(EXIT_ERROR);
        }
    }
    let reports = match scan_all(&files, &policy.scan) {
        Ok(reports) => reports,
        Err((file, e)) => {
            eprintln!("pyward: cannot read {}: {e}", file.display());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let summary = ScanSummary { files: reports };
    let output = match args.format {
        Format::Text => scan::render_text(&summary),
        Format::Json => scan::render_json(&summary) + "\n",
        Format::Sarif => scan::render_sarif(&summary) + "\n",
    };
    print!("{output}");
    if summary.files.iter().all(|f| f.is_clean()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Scan every file, on as many threads as there are CPUs, keeping the input order.
fn scan_all(
    files: &[PathBuf],
    rules: &scan::ScanRules,
) -> Result<Vec<FileReport>, (PathBuf, std::io::Error)> {
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let mut results: Vec<Option<Result<FileReport, std::io::Error>>> =
        (0..files.len()).map(|_| None).collect();
    let done: Vec<Vec<(usize, Result<FileReport, std::io::Error>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else {
                            break;
                        };
                        let report = std::fs::read(file)
                            .map(|bytes| scan::scan_source(&file.to_string_lossy(), &bytes, rules));
                        mine.push((i, report));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a scan thread never panics"))
            .collect()
    });
    for (i, report) in done.into_iter().flatten() {
        results[i] = Some(report);
    }
    results
        .into_iter()
        .zip(files)
        .map(|(r, file)| {
            r.expect("every index was scanned")
                .map_err(|e| (file.clone(), e))
        })
        .collect()
}

/// A file as given, or every `*.py` below a directory, in a stable order. Symbolic links inside
/// directories are not followed (a link could point anywhere, or loop).
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        let p = entry.path();
        if kind.is_dir() {
            collect(&p, out)?;
        } else if kind.is_file() && p.extension().is_some_and(|e| e == "py") {
            out.push(p);
        }
    }
    Ok(())
}
