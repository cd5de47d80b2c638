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
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(errors) => {
                print_policy_errors(&errors);
                ExitCode::from(1)
            }
        },
    }
}
