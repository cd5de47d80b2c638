//! `pyward policy init` and `pyward policy validate`.

use std::io::Write;
use std::process::ExitCode;

use pyward_policy::Policy;
use pyward_policy::config::DEFAULT_POLICY_TOML;

use super::{EXIT_ERROR, print_policy_errors};
use crate::cli::PolicyCommand;

pub fn run(command: PolicyCommand) -> ExitCode {
    match command {
        PolicyCommand::Init { output: None, .. } => {
            print!("{DEFAULT_POLICY_TOML}");
            ExitCode::SUCCESS
        }
        PolicyCommand::Init {
            output: Some(path),
            force,
        } => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true);
            if force {
                options.create(true).truncate(true);
            } else {
                options.create_new(true);
            }
            let written = options
                .open(&path)
                .and_then(|mut f| f.write_all(DEFAULT_POLICY_TOML.as_bytes()));
            match written {
                Ok(()) => {
                    eprintln!("pyward: wrote the default policy to {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    eprintln!(
                        "pyward: {} already exists; pass --force to overwrite it",
                        path.display()
                    );
                    ExitCode::from(EXIT_ERROR)
                }
                Err(e) => {
                    eprintln!("pyward: cannot write {}: {e}", path.display());
                    ExitCode::from(EXIT_ERROR)
                }
            }
        }
        PolicyCommand::Validate { file } => match Policy::load(&file) {
            Ok(policy) => {
                // The zygote imports every allowed module at start: one it cannot import would
                // stop `pyward serve`, so say so now.
                let allowed: Vec<String> = policy.scan.allowed_imports.iter().cloned().collect();
                match pyward_worker::runtime::unimportable(
                    &allowed,
                    policy.sandbox.packages_dir.as_deref(),
                ) {
                    Ok(missing) if missing.is_empty() => {
                        println!("{}: ok", file.display());
                        ExitCode::SUCCESS
                    }
                    Ok(missing) => {
                        for (name, why) in missing {
                            eprintln!(
                                "pyward: policy error: {}: key `scan.allowed_imports`: `{name}` cannot be imported by pyward's interpreter (CPython {}, standard library {}{}): {why}; remove it, or install it into sandbox.packages_dir with `pip install --target`",
                                file.display(),
                                pyward_worker::runtime::PYTHON_VERSION,
                                pyward_worker::runtime::PYTHON_STDLIB,
                                policy
                                    .sandbox
                                    .packages_dir
                                    .as_ref()
                                    .map(|d| format!(", packages {}", d.display()))
                                    .unwrap_or_default(),
                            );
                        }
                        ExitCode::from(1)
                    }
                    Err(e) => {
                        eprintln!("pyward: cannot check the import allowlist: {e}");
                        ExitCode::from(EXIT_ERROR)
                    }
                }
            }
            Err(errors) => {
                print_policy_errors(&errors);
                ExitCode::from(1)
            }
        },
    }
}
