//! One module per subcommand. Each returns the process exit code.

mod check;
mod ctl;
mod policy;
mod run;
mod scan;

use std::process::ExitCode;

use pyward_policy::{Policy, PolicyError};

use crate::cli::{Cli, Command};

/// Exit code for a usage, configuration or I/O error (as opposed to findings).
pub const EXIT_ERROR: u8 = 2;

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Run(args) => run::run(args),
        Command::Check { config, json } => check::run(config.as_deref(), json),
        Command::Serve { config, socket } => {
            let policy = match load_policy(config.as_deref()) {
                Ok(policy) => policy,
                Err(code) => return code,
            };
            let socket = socket.unwrap_or_else(|| policy.server.socket.clone());
            match crate::daemon::run(policy, config.as_deref(), &socket) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pyward serve: {e}");
                    ExitCode::from(EXIT_ERROR)
                }
            }
        }
        Command::Ctl {
            socket,
            method,
            params,
        } => ctl::run(&socket, &method, &params),
        Command::Status { socket, json } => ctl::status(&socket, json),
        Command::SeccompRules { network } => {
            use pyward_worker::sandbox::seccomp::{self, Arch, RuleOptions};
            let describe = |a: seccomp::Action| match a {
                seccomp::Action::Allow => "allow".to_string(),
                seccomp::Action::Errno(e) => format!("errno {e}"),
                seccomp::Action::Trap => "trap".to_string(),
            };
            let options = RuleOptions {
                network,
                self_pid: Some(0),
            };
            let rules: Vec<serde_json::Value> = seccomp::rules(options)
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "syscall": r.syscall,
                        "conditions": r.when.len(),
                        "then": describe(r.then),
                        "otherwise": describe(r.otherwise),
                        "reason": r.reason,
                        "x86_64": Arch::X86_64.number(r.syscall),
                        "aarch64": Arch::Aarch64.number(r.syscall),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rules).expect("serialisable")
            );
            ExitCode::SUCCESS
        }
        Command::Zygote { config } => {
            let policy = match load_policy(config.as_deref()) {
                Ok(policy) => policy,
                Err(code) => return code,
            };
            let control = match pyward_worker::sys::inherited_fd(pyward_worker::zygote::CONTROL_FD)
            {
                Ok(fd) => fd,
                Err(e) => {
                    eprintln!(
                        "pyward zygote: no control socket on fd 3 (it is started by the supervisor): {e}"
                    );
                    return ExitCode::from(EXIT_ERROR);
                }
            };
            let config = pyward_worker::runtime::RuntimeConfig::from_policy(&policy);
            pyward_worker::zygote::run(control, config)
        }
        Command::Policy { command } => policy::run(command),
    }
}

/// The policy from `--config`, or the built-in defaults. Errors are printed, one per line.
pub fn load_policy(config: Option<&std::path::Path>) -> Result<Policy, ExitCode> {
    match config {
        None => Ok(Policy::default()),
        Some(path) => Policy::load(path).map_err(|errors| {
            print_policy_errors(&errors);
            ExitCode::from(EXIT_ERROR)
        }),
    }
}

pub fn print_policy_errors(errors: &[PolicyError]) {
    for e in errors {
        eprintln!("pyward: policy error: {e}");
    }
}
