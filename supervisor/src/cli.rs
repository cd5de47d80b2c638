//! Every command-line flag of `pyward`, in one place.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "pyward",
    version,
    about = "Runs untrusted Python modules behind real walls: ACL, static scan, kernel sandbox"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan Python files or directories for forbidden code (exit 0 clean, 1 findings, 2 error).
    Scan(ScanArgs),
    /// Scan a module, then run it in a sandboxed worker (exit 0 only when it ran cleanly).
    Run(RunArgs),
    /// Run the supervisor daemon on a Unix socket.
    Serve {
        /// Policy file; without it the built-in defaults are used.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Socket path (default: the policy's server.socket).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Send one JSON-RPC request to a running supervisor and print the answer.
    Ctl {
        /// Socket path (default: /run/pyward/pyward.sock).
        #[arg(long, value_name = "PATH", default_value = "/run/pyward/pyward.sock")]
        socket: PathBuf,
        /// The method, e.g. module.list.
        method: String,
        /// Parameters as a JSON object.
        #[arg(default_value = "{}")]
        params: String,
    },
    /// Modules, their health and quarantine, call counts, last violations, and the layers in
    /// force, from a running supervisor.
    Status {
        /// Socket path (default: /run/pyward/pyward.sock).
        #[arg(long, value_name = "PATH", default_value = "/run/pyward/pyward.sock")]
        socket: PathBuf,
        /// Print the supervisor's answer as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// What this machine can enforce, and which layers a worker really gets under the policy.
    Check {
        /// Policy file; without it the built-in defaults are used.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the worker's seccomp rules (syscall, action, reason, numbers) as JSON.
    #[command(hide = true)]
    SeccompRules {
        /// The rules as they are with `dangerously_allow_network`.
        #[arg(long)]
        network: bool,
    },
    /// Internal: the pre-warmed process that forks workers (started by the supervisor with its
    /// control socket on fd 3).
    #[command(hide = true)]
    Zygote {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Write or check a policy file.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Policy file; without it the built-in defaults are used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Files or directories (searched for *.py).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Policy file; without it the built-in defaults are used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one JSON object: status, layer, detail, stdout, result, duration_ms, ...
    #[arg(long)]
    pub json: bool,
    /// Skip the static scan. Only for proving that the other layers hold on their own.
    #[arg(long)]
    pub dangerously_skip_scan: bool,
    /// Test-only: skip the scan and turn the interpreter layer off (real builtins, no import
    /// allowlist, no audit hook), so that the kernel layers are proven alone. Never in a policy.
    #[arg(long, hide = true)]
    pub dangerously_kernel_only_for_tests: bool,
    /// The module's source file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Call this command (declared with @pyward.command) or module-level function.
    #[arg(long, value_name = "NAME")]
    pub call: Option<String>,
    /// Arguments as JSON: a command gets the value as `args`; a function gets a list as
    /// positional arguments, an object as keywords, anything else as one argument.
    #[arg(long, value_name = "JSON")]
    pub args: Option<String>,
    /// The chat event a command sees, as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub event: Option<String>,
    /// Trust tier whose host calls the module gets (default: the policy's default_tier).
    #[arg(long, value_name = "TIER")]
    pub tier: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Write the default policy, with comments, to FILE or standard output.
    Init {
        /// Where to write it; standard output if omitted.
        #[arg(value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Check a policy file and say exactly what is wrong, and where.
    Validate {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}
