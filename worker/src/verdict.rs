//! One place that turns how a call ended into a status, the layer that stopped it, and a
//! sentence: used by `pyward run` and by the supervisor's error replies.

use pyward_policy::config::SandboxLimits;
use serde::{Deserialize, Serialize};

use crate::exit::WorkerExit;
use crate::process::{Ending, WorkerFailure};
use crate::runtime::{CallOutcome, PyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    ScanRejected,
    SandboxViolation,
    Timeout,
    MemoryLimit,
    OutputLimit,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: Status,
    /// `scan`, `interpreter`, `seccomp`, `landlock`, `rlimit`, `deadline`, `module`, `worker`, ...
    pub layer: Option<String>,
    pub detail: String,
}

fn verdict(status: Status, layer: &str, detail: String) -> Verdict {
    Verdict {
        status,
        layer: Some(layer.to_string()),
        detail,
    }
}

pub fn ok() -> Verdict {
    Verdict {
        status: Status::Ok,
        layer: None,
        detail: String::new(),
    }
}

/// A Python exception raised by the module (or by a guard inside the interpreter).
pub fn from_error(error: &PyError) -> Verdict {
    if error.kind == "OutputLimitExceeded" {
        verdict(Status::OutputLimit, "interpreter", error.message.clone())
    } else if error.is_sandbox_violation() {
        verdict(
            Status::SandboxViolation,
            "interpreter",
            error.message.clone(),
        )
    } else if error.is_memory_error() {
        // CPython raises MemoryError when an allocation fails: in a worker that is the
        // address-space limit (RLIMIT_AS) refusing to grow it.
        verdict(
            Status::MemoryLimit,
            "rlimit",
            format!(
                "MemoryError{}: the worker reached its memory limit (sandbox.memory_mb)",
                if error.message.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", error.message)
                }
            ),
        )
    } else {
        verdict(
            Status::Error,
            "module",
            format!("{}: {}", error.kind, error.message),
        )
    }
}

pub fn from_outcome(outcome: &CallOutcome) -> Verdict {
    // A refusal of the interpreter layer counts even if the module caught the exception.
    if let Some(violation) = &outcome.violation {
        return verdict(Status::SandboxViolation, "interpreter", violation.message());
    }
    if outcome.output_limit_hit {
        return verdict(
            Status::OutputLimit,
            "interpreter",
            "the module printed more than the policy's sandbox.max_output_bytes".into(),
        );
    }
    match &outcome.error {
        Some(error) => from_error(error),
        None => ok(),
    }
}

pub fn from_failure(failure: &WorkerFailure, limits: &SandboxLimits) -> Verdict {
    match failure {
        WorkerFailure::Sandbox { error } => verdict(
            Status::Error,
            &error.layer,
            format!(
                "{error}; the policy requires this layer (sandbox.require), or set sandbox.dangerously_allow_degraded"
            ),
        ),
        WorkerFailure::Deadline { .. } => verdict(
            Status::Timeout,
            "deadline",
            format!(
                "the call ran past the wall-clock limit of {} ms (sandbox.wall_ms) and the worker was killed",
                limits.wall_ms
            ),
        ),
        WorkerFailure::Died { ending } => from_ending(ending, limits),
        WorkerFailure::Protocol { message } => {
            verdict(Status::Error, "worker", format!("worker link: {message}"))
        }
    }
}

pub fn from_ending(ending: &Ending, limits: &SandboxLimits) -> Verdict {
    match ending {
        Ending::Seccomp { syscall, name } => verdict(
            Status::SandboxViolation,
            "seccomp",
            format!(
                "the worker made the system call `{}` (number {syscall}), which the seccomp allowlist forbids; it was stopped",
                name.as_deref().unwrap_or("unknown")
            ),
        ),
        Ending::Exited { code } if WorkerExit::from_code(*code) == Some(WorkerExit::OutOfMemory) => verdict(
            Status::MemoryLimit,
            "rlimit",
            format!(
                "the worker ran out of memory at the policy's limit of {} MiB (sandbox.memory_mb)",
                limits.memory_bytes >> 20
            ),
        ),
        Ending::Signaled { signal } if *signal == libc::SIGXCPU => verdict(
            Status::Timeout,
            "rlimit",
            format!(
                "the worker used its {} s of CPU time (sandbox.cpu_seconds)",
                limits.cpu_seconds
            ),
        ),
        Ending::Signaled { signal } if *signal == libc::SIGKILL => verdict(
            Status::Timeout,
            "rlimit",
            "the worker was killed (SIGKILL): at its CPU hard limit (sandbox.cpu_seconds), by the kernel's OOM killer, or by another process"
                .into(),
        ),
        Ending::Signaled { signal } => verdict(
            Status::Error,
            "worker",
            format!(
                "the worker crashed with signal {signal}{} (a crash, not a sandbox violation)",
                match *signal {
                    libc::SIGABRT => " (SIGABRT: the interpreter or a library aborted)",
                    libc::SIGSEGV => " (SIGSEGV)",
                    libc::SIGBUS => " (SIGBUS)",
                    libc::SIGILL => " (SIGILL)",
                    libc::SIGFPE => " (SIGFPE)",
                    _ => "",
                }
            ),
        ),
        Ending::Exited { code } if WorkerExit::from_code(*code) == Some(WorkerExit::Panic) => verdict(
            Status::Error,
            "worker",
            "the worker crashed: a panic in pyward's worker code (a bug in pyward, not a sandbox violation)".into(),
        ),
        Ending::Exited { code } => verdict(
            Status::Error,
            "worker",
            format!("the worker exited unexpectedly with code {code}"),
        ),
        // Asked of a worker whose link closed: its zygote died (or did not answer) before
        // reporting how the worker ended.
        Ending::Running => verdict(
            Status::Error,
            "worker",
            "the worker's link closed and how it ended is unknown: its zygote died or did not report it (the zygote is replaced)".into(),
        ),
    }
}
