//! `pyward scan`: the static scanner over files and directories.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pyward_policy::scan::{self, ScanSummary};

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
    let mut reports = Vec::with_capacity(files.len());
    for file in &files {
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("pyward: cannot read {}: {e}", file.display());
                return ExitCode::from(EXIT_ERROR);
            }
        };
        let name = file.to_string_lossy();
        reports.push(scan::scan_source(&name, &bytes, &policy.scan));
    }
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
