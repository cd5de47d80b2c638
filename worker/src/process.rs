//! The supervisor's side of one worker process: spawn it, drive it over the link, enforce the
//! wall-clock deadline, and say how it ended and which layer stopped it.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use pyward_policy::config::{HostCall, SandboxLimits};
use serde::{Deserialize, Serialize};

use crate::exit::WorkerExit;
use crate::link::{self, FromWorker, HostCallError, Json, RecvError, ToWorker};
use crate::runtime::{CallOutcome, Loaded, PyError, Runtime, RuntimeConfig, Target};
use crate::sandbox::{SandboxError, SandboxReport, seccomp};
use crate::{serve, sys};

/// How a worker process ended, as seen by whoever reaped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ending {
    /// Still running when asked.
    Running,
    Exited {
        code: i32,
    },
    Signaled {
        signal: i32,
    },
    /// Stopped by seccomp at this syscall (reported by the worker's SIGSYS handler).
    Seccomp {
        syscall: u32,
        name: Option<String>,
    },
}

impl Ending {
    /// From an exit status and whatever the worker's report pipe held.
    pub fn from_status(status: sys::ExitStatus, report: &[u8]) -> Ending {
        match status {
            sys::ExitStatus::Exited(code)
                if code == WorkerExit::Seccomp.code() && report.len() >= 4 =>
            {
                let syscall = u32::from_le_bytes([report[0], report[1], report[2], report[3]]);
                Ending::Seccomp {
                    syscall,
                    name: seccomp::Arch::native().name_of(syscall).map(str::to_string),
                }
            }
            sys::ExitStatus::Exited(code) => Ending::Exited { code },
            sys::ExitStatus::Signaled(signal) => Ending::Signaled { signal },
        }
    }
}

/// Everything that can stop a worker from answering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum WorkerFailure {
    /// The sandbox could not be applied.
    Sandbox { error: SandboxError },
    /// The wall-clock deadline passed; the worker was killed.
    Deadline { after_ms: u64 },
    /// The worker died (seccomp, a signal such as SIGXCPU, a crash).
    Died { ending: Ending },
    /// The worker said something that makes no sense.
    Protocol { message: String },
}

/// Who learns how a worker ended: its parent, by waitpid and the report pipe, or someone who
/// reaps on its behalf (the zygote reports it).
enum Reaper {
    Direct { report: OwnedFd },
    External(Box<dyn FnMut(libc::pid_t) -> Ending + Send>),
}

/// One worker process and its link.
pub struct WorkerProcess {
    pid: libc::pid_t,
    link: OwnedFd,
    reaper: Reaper,
    ending: Option<Ending>,
}

impl std::fmt::Debug for WorkerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerProcess")
            .field("pid", &self.pid)
            .field("ending", &self.ending)
            .finish_non_exhaustive()
    }
}

/// How long a worker gets to confine itself and say it is ready. Confining takes milliseconds;
/// the margin is for a machine under load (many workers starting at once on few cores), and a
/// worker that has not confined itself by then is killed rather than waited for.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

impl WorkerProcess {
    /// Fork a worker straight from this process (no zygote): the child builds the interpreter
    /// (trusted, before confinement), applies the sandbox, and serves. For `pyward run`, where
    /// one worker runs one module once. The caller must be single-threaded.
    pub fn spawn_direct(
        config: &RuntimeConfig,
        limits: &SandboxLimits,
    ) -> Result<WorkerProcess, WorkerFailure> {
        let io = |what: &str, e: std::io::Error| WorkerFailure::Protocol {
            message: format!("{what}: {e}"),
        };
        let single = sys::SingleThreaded::check().map_err(|e| io("fork", e))?;
        let (parent_link, child_link) = sys::seqpacket_pair().map_err(|e| io("socketpair", e))?;
        let (report_read, report_write) = sys::pipe().map_err(|e| io("pipe", e))?;
        match sys::fork(&single).map_err(|e| io("fork", e))? {
            sys::Forked::Child => {
                drop(parent_link);
                drop(report_read);
                let _ = sys::die_with_parent();
                // INVARIANT: before the interpreter starts, which copies the environment into
                // `os.environ`: no secret of the caller may be left in this process's memory.
                sys::scrub_environment(&single);
                // A panic must never unwind into the parent's code running in this child.
                let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let runtime = match Runtime::new(config.clone()) {
                        Ok(runtime) => runtime,
                        Err(_) => sys::exit_now(WorkerExit::SandboxFailed.code()),
                    };
                    serve::run(runtime, limits, child_link, report_write)
                }));
                let _ = served;
                sys::exit_now(WorkerExit::Panic.code())
            }
            sys::Forked::Parent { pid } => Ok(WorkerProcess::adopt(pid, parent_link, report_read)),
        }
    }

    /// Wrap a worker this process forked, given our ends of its link and report pipe.
    pub fn adopt(pid: libc::pid_t, link: OwnedFd, report: OwnedFd) -> WorkerProcess {
        WorkerProcess {
            pid,
            link,
            reaper: Reaper::Direct { report },
            ending: None,
        }
    }

    /// Wrap a worker someone else forked and reaps (the zygote): `ending` is asked, after the
    /// worker is gone, how it ended.
    pub fn adopt_external(
        pid: libc::pid_t,
        link: OwnedFd,
        ending: Box<dyn FnMut(libc::pid_t) -> Ending + Send>,
    ) -> WorkerProcess {
        WorkerProcess {
            pid,
            link,
            reaper: Reaper::External(ending),
            ending: None,
        }
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Wait for the worker to confine itself; returns what it enforced.
    pub fn wait_ready(&mut self) -> Result<SandboxReport, WorkerFailure> {
        match self.recv(Instant::now() + READY_TIMEOUT)? {
            FromWorker::Ready { sandbox } => Ok(sandbox),
            FromWorker::SandboxFailed { error } => {
                self.kill_and_reap();
                Err(WorkerFailure::Sandbox { error })
            }
            other => Err(self.protocol(format!("expected ready, got {other:?}"))),
        }
    }

    /// Load a module's source. `Ok(Err(..))`: the module itself failed (syntax, an exception,
    /// a refused import) and the worker is still usable.
    pub fn load(
        &mut self,
        name: &str,
        source: &str,
        host_calls: &BTreeSet<HostCall>,
        deadline: Instant,
    ) -> Result<Result<Loaded, PyError>, WorkerFailure> {
        self.send(&ToWorker::Load {
            name: name.to_string(),
            source: source.to_string(),
            host_calls: host_calls.clone(),
        })?;
        loop {
            match self.recv(deadline)? {
                FromWorker::Loaded { loaded } => return Ok(Ok(loaded)),
                FromWorker::LoadFailed { error } => return Ok(Err(error)),
                FromWorker::HostCall { id, .. } => {
                    // Module-level code may not use the host: there is no event yet.
                    self.send(&ToWorker::HostResult {
                        id,
                        result: Err(HostCallError::denied(
                            "host calls are not available while a module loads",
                        )),
                    })?;
                }
                other => return Err(self.protocol(format!("expected loaded, got {other:?}"))),
            }
        }
    }

    /// Call into the loaded module, answering its host calls with `host` as they come.
    pub fn call(
        &mut self,
        target: &Target,
        args: Json,
        event: Json,
        deadline: Instant,
        host: &mut dyn FnMut(HostCall, Json) -> Result<Json, HostCallError>,
    ) -> Result<CallOutcome, WorkerFailure> {
        self.send(&ToWorker::Call {
            target: target.clone(),
            args,
            event,
        })?;
        loop {
            match self.recv(deadline)? {
                FromWorker::Done { outcome } => return Ok(outcome),
                FromWorker::HostCall { id, call, args } => {
                    let result = host(call, args);
                    self.send(&ToWorker::HostResult { id, result })?;
                }
                other => return Err(self.protocol(format!("expected a result, got {other:?}"))),
            }
        }
    }

    fn send(&mut self, message: &ToWorker) -> Result<(), WorkerFailure> {
        match link::send(self.link.as_fd(), message) {
            Ok(()) => Ok(()),
            Err(_) => Err(WorkerFailure::Died {
                ending: self.reap_blocking(),
            }),
        }
    }

    fn recv(&mut self, deadline: Instant) -> Result<FromWorker, WorkerFailure> {
        let started = Instant::now();
        match link::recv(self.link.as_fd(), Some(deadline)) {
            Ok(message) => Ok(message),
            Err(RecvError::Timeout) => {
                self.kill_and_reap();
                Err(WorkerFailure::Deadline {
                    after_ms: started.elapsed().as_millis() as u64,
                })
            }
            Err(RecvError::Closed) | Err(RecvError::Io(_)) => Err(WorkerFailure::Died {
                ending: self.reap_blocking(),
            }),
            Err(RecvError::Invalid(message)) => Err(self.protocol(message)),
        }
    }

    fn protocol(&mut self, message: String) -> WorkerFailure {
        self.kill_and_reap();
        WorkerFailure::Protocol { message }
    }

    /// Between calls a worker sends nothing: if its link is readable now, it has ended (or is
    /// talking out of turn, and is killed for it). Returns how it ended; `None` if it is idle.
    pub fn ended_while_idle(&mut self) -> Option<Ending> {
        if self.ending.is_some() {
            return self.ending.clone();
        }
        match sys::poll_readable(&[self.link.as_fd()], 0) {
            Ok(ready) if !ready[0] => None,
            _ => Some(self.kill_and_reap()),
        }
    }

    /// SIGKILL the worker (if it still runs) and collect how it ended.
    pub fn kill_and_reap(&mut self) -> Ending {
        if self.ending.is_none() {
            let _ = sys::kill(self.pid, libc::SIGKILL);
        }
        self.reap_blocking()
    }

    /// Wait for the worker to end (it has closed its link or been killed).
    fn reap_blocking(&mut self) -> Ending {
        if let Some(ending) = &self.ending {
            return ending.clone();
        }
        let ending = match &mut self.reaper {
            Reaper::Direct { report } => {
                let status = match sys::wait_pid(self.pid, true) {
                    Ok(Some(status)) => status,
                    _ => sys::ExitStatus::Exited(-1),
                };
                let mut bytes = [0u8; 8];
                let n = sys::read(report.as_fd(), &mut bytes).unwrap_or(0);
                Ending::from_status(status, &bytes[..n])
            }
            Reaper::External(ask) => ask(self.pid),
        };
        self.ending = Some(ending.clone());
        ending
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if self.ending.is_none() {
            self.kill_and_reap();
        }
    }
}
