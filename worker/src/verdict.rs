//! One place that turns how a call ended into a status, the layer that stopped it, and a
//! sentence: used by `pyward run` and by the supervisor's error replies.

#![forbid(unsafe_code)]

use pyward_policy::config::SandboxLimits;
use serde::{Deserialize, Serialize};

use crate::exit::WorkerExit;
use crate::process::{Ending, WorkerFailure};
use crate::runtime::{CallOutcome, PyError};
use crate::sandbox::Stage;

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
    pub layer: Option<Layer>,
    pub detail: String,
}

/// What stopped a call, by the name clients see (`data.layer` of an error, the `verdict` of a
/// `sandbox_event` audit record, `pyward run`'s report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Layer {
    /// The static scanner, or the parser cross-check.
    Scan,
    /// The in-language layer: restricted builtins, the import allowlist, the audit hook, the
    /// output limit.
    Interpreter,
    Seccomp,
    Landlock,
    /// A resource limit: RLIMIT_AS, RLIMIT_CPU.
    Rlimit,
    /// The wall-clock deadline (`sandbox.wall_ms`).
    Deadline,
    /// The worker's cgroup (`memory.max`).
    Cgroup,
    /// The module's own code (an exception it raised, a result pyward cannot pass on): not a
    /// sandbox event.
    Module,
    /// The worker process: a crash, a broken link.
    Worker,
    /// A stage of the kernel sandbox that could not be applied (`fds`, `no_new_privs`,
    /// `privilege_drop`, ...: [`crate::sandbox::SandboxError`]); never `Seccomp` or `Landlock`,
    /// which are the layers of those names.
    SandboxStage(Stage),
}

impl Layer {
    const NAMED: [Layer; 9] = [
        Layer::Scan,
        Layer::Interpreter,
        Layer::Seccomp,
        Layer::Landlock,
        Layer::Rlimit,
        Layer::Deadline,
        Layer::Cgroup,
        Layer::Module,
        Layer::Worker,
    ];

    pub fn name(&self) -> &str {
        match self {
            Layer::Scan => "scan",
            Layer::Interpreter => "interpreter",
            Layer::Seccomp => "seccomp",
            Layer::Landlock => "landlock",
            Layer::Rlimit => "rlimit",
            Layer::Deadline => "deadline",
            Layer::Cgroup => "cgroup",
            Layer::Module => "module",
            Layer::Worker => "worker",
            Layer::SandboxStage(stage) => stage.name(),
        }
    }

    /// The layer of this name: one of the named layers, else a sandbox stage's; `None` for a
    /// name neither has.
    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::NAMED
            .into_iter()
            .find(|layer| layer.name() == name)
            .or_else(|| {
                Stage::ALL
                    .into_iter()
                    .find(|stage| stage.name() == name)
                    .map(Layer::from)
            })
    }
}

impl From<Stage> for Layer {
    /// The sandbox's `seccomp` and `landlock` stages are the layers of those names.
    fn from(stage: Stage) -> Layer {
        match stage {
            Stage::Seccomp => Layer::Seccomp,
            Stage::Landlock => Layer::Landlock,
            stage => Layer::SandboxStage(stage),
        }
    }
}

impl TryFrom<String> for Layer {
    type Error = String;

    fn try_from(name: String) -> Result<Layer, String> {
        Layer::from_name(&name).ok_or_else(|| format!("no layer named `{name}`"))
    }
}

impl From<Layer> for String {
    fn from(layer: Layer) -> String {
        layer.name().to_string()
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn verdict(status: Status, layer: Layer, detail: String) -> Verdict {
    Verdict {
        status,
        layer: Some(layer),
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
        verdict(
            Status::OutputLimit,
            Layer::Interpreter,
            error.message.clone(),
        )
    } else if error.is_sandbox_violation() {
        verdict(
            Status::SandboxViolation,
            Layer::Interpreter,
            error.message.clone(),
        )
    } else if error.is_memory_error() {
        // CPython raises MemoryError when an allocation fails: in a worker that is the
        // address-space limit (RLIMIT_AS) refusing to grow it.
        verdict(
            Status::MemoryLimit,
            Layer::Rlimit,
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
            Layer::Module,
            format!("{}: {}", error.kind, error.message),
        )
    }
}

pub fn from_outcome(outcome: &CallOutcome) -> Verdict {
    // A refusal of the interpreter layer counts even if the module caught the exception.
    if let Some(violation) = &outcome.violation {
        return verdict(
            Status::SandboxViolation,
            Layer::Interpreter,
            violation.message(),
        );
    }
    if outcome.output_limit_hit {
        return verdict(
            Status::OutputLimit,
            Layer::Interpreter,
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
            Layer::from(error.layer),
            format!(
                "{error}; the policy requires this layer (sandbox.require), or set sandbox.dangerously_allow_degraded"
            ),
        ),
        WorkerFailure::Deadline { .. } => verdict(
            Status::Timeout,
            Layer::Deadline,
            format!(
                "the call ran past the wall-clock limit of {} ms (sandbox.wall_ms) and the worker was killed",
                limits.wall_ms
            ),
        ),
        WorkerFailure::Died { ending } => from_ending(ending, limits),
        WorkerFailure::Protocol { message } => verdict(
            Status::Error,
            Layer::Worker,
            format!("worker link: {message}"),
        ),
    }
}

pub fn from_ending(ending: &Ending, limits: &SandboxLimits) -> Verdict {
    match ending {
        Ending::Seccomp { syscall, name } => verdict(
            Status::SandboxViolation,
            Layer::Seccomp,
            format!(
                "the worker made the system call `{}` (number {syscall}), which the seccomp allowlist forbids; it was stopped",
                name.as_deref().unwrap_or("unknown")
            ),
        ),
        Ending::Exited { code } if *code == WorkerExit::OutOfMemory.code() => verdict(
            Status::MemoryLimit,
            Layer::Rlimit,
            format!(
                "the worker ran out of memory at the policy's limit of {} MiB (sandbox.memory_mb)",
                limits.memory_bytes >> 20
            ),
        ),
        Ending::Signaled { signal } if *signal == libc::SIGXCPU => verdict(
            Status::Timeout,
            Layer::Rlimit,
            format!(
                "the worker used its {} s of CPU time (sandbox.cpu_seconds)",
                limits.cpu_seconds
            ),
        ),
        Ending::Signaled { signal } if *signal == libc::SIGKILL => verdict(
            Status::Timeout,
            Layer::Rlimit,
            "the worker was killed (SIGKILL): at its CPU hard limit (sandbox.cpu_seconds), by the kernel's OOM killer, or by another process"
                .into(),
        ),
        Ending::Signaled { signal } => verdict(
            Status::Error,
            Layer::Worker,
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
        Ending::Exited { code } if *code == WorkerExit::Panic.code() => verdict(
            Status::Error,
            Layer::Worker,
            "the worker crashed: a panic in pyward's worker code (a bug in pyward, not a sandbox violation)".into(),
        ),
        Ending::Exited { code } => verdict(
            Status::Error,
            Layer::Worker,
            format!("the worker exited unexpectedly with code {code}"),
        ),
        // Asked of a worker whose link closed: its zygote died (or did not answer) before
        // reporting how the worker ended.
        Ending::Running => verdict(
            Status::Error,
            Layer::Worker,
            "the worker's link closed and how it ended is unknown: its zygote died or did not report it (the zygote is replaced)".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use pyward_policy::Policy;

    use super::*;

    #[test]
    fn layers_keep_the_names_clients_see() {
        for (layer, name) in [
            (Layer::Scan, "scan"),
            (Layer::Interpreter, "interpreter"),
            (Layer::Seccomp, "seccomp"),
            (Layer::Landlock, "landlock"),
            (Layer::Rlimit, "rlimit"),
            (Layer::Deadline, "deadline"),
            (Layer::Cgroup, "cgroup"),
            (Layer::Module, "module"),
            (Layer::Worker, "worker"),
            (Layer::SandboxStage(Stage::NoNewPrivs), "no_new_privs"),
        ] {
            assert_eq!(serde_json::to_value(layer).unwrap(), name);
            assert_eq!(serde_json::from_value::<Layer>(name.into()).unwrap(), layer);
            assert_eq!(Layer::from_name(name), Some(layer));
            assert_eq!(layer.to_string(), name);
        }
        // The sandbox's own seccomp stage is the seccomp layer.
        assert_eq!(Layer::from(Stage::Seccomp), Layer::Seccomp);
        assert_eq!(Layer::from(Stage::Landlock), Layer::Landlock);
        for stage in Stage::ALL {
            let layer = Layer::from(stage);
            assert_eq!(layer.name(), stage.name());
            assert_eq!(Layer::from_name(stage.name()), Some(layer));
        }
        // A name no layer has is an error, not a made-up layer.
        assert_eq!(Layer::from_name("nonsense"), None);
        assert!(serde_json::from_value::<Layer>("nonsense".into()).is_err());
        let v = verdict(Status::Error, Layer::Module, "boom".into());
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"status":"error","layer":"module","detail":"boom"}"#
        );
        assert_eq!(
            serde_json::to_value(ok()).unwrap()["layer"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn exit_codes_become_verdicts() {
        let limits = Policy::default().sandbox;
        let exited = |exit: WorkerExit| from_ending(&Ending::Exited { code: exit.code() }, &limits);
        let memory = exited(WorkerExit::OutOfMemory);
        assert_eq!(
            (memory.status, memory.layer),
            (Status::MemoryLimit, Some(Layer::Rlimit))
        );
        let panic = exited(WorkerExit::Panic);
        assert_eq!(
            (panic.status, panic.layer),
            (Status::Error, Some(Layer::Worker))
        );
        assert!(
            panic.detail.contains("a panic in pyward"),
            "{}",
            panic.detail
        );
        let other = from_ending(&Ending::Exited { code: 3 }, &limits);
        assert_eq!(other.detail, "the worker exited unexpectedly with code 3");
        let sandbox = from_failure(
            &WorkerFailure::Sandbox {
                error: crate::sandbox::SandboxError {
                    layer: Stage::Fds,
                    message: "no".into(),
                },
            },
            &limits,
        );
        assert_eq!(sandbox.layer, Some(Layer::SandboxStage(Stage::Fds)));
    }
}
