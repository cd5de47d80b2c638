//! The zygote: one per supervisor, single-threaded, started once (`pyward zygote`, with its
//! control socket on fd 3). It builds and warms the interpreter, then forks a confined worker
//! per request and reports how each one ended. Fork from a warmed process is what makes a
//! sandboxed cold start cost a few milliseconds instead of an interpreter start.
//!
//! Control messages are JSON datagrams on a SOCK_SEQPACKET socket; a spawn request carries the
//! worker's end of its link as SCM_RIGHTS.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyward_policy::config::SandboxLimits;
use serde::{Deserialize, Serialize};

use crate::exit::WorkerExit;
use crate::process::{Ending, WorkerProcess};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::{serve, sys};

/// Where the zygote finds its control socket.
pub const CONTROL_FD: RawFd = 3;

/// How long a new zygote gets to start its interpreter and import the whole allowlist before
/// it is given up on: far more than the standard library's allowlist needs, so that an
/// operator's vetted packages on a loaded machine still warm; a zygote that hangs still fails.
pub const WARM_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the zygote gets to answer a spawn request. A fork from the warm process takes
/// milliseconds; a zygote that has not answered by then is taken for dead (and the daemon
/// starts a new one).
pub const SPAWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the zygote gets to report how a worker ended, once the worker has closed its link
/// or been killed. It reaps on SIGCHLD at once; one that stays silent this long is taken for
/// dead, and the ending is reported unknown ([`Ending::Running`]).
pub const EXIT_REPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToZygote {
    /// Fork a worker with these limits; the worker's link end is attached.
    Spawn { id: u64, limits: SandboxLimits },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromZygote {
    Warm { pid: i32, warm_ms: u64 },
    Spawned { id: u64, pid: i32 },
    SpawnFailed { id: u64, error: String },
    Exited { id: u64, pid: i32, ending: Ending },
}

fn send(control: &OwnedFd, message: &FromZygote) {
    let body = serde_json::to_vec(message).expect("zygote messages serialise");
    // A supervisor that went away is handled by the poll loop (EOF on the control socket).
    let _ = sys::send_packet(control.as_fd(), &body, None);
}

struct Child {
    id: u64,
    report: OwnedFd,
}

/// The zygote process's whole life. Never returns.
pub fn run(control: OwnedFd, config: RuntimeConfig) -> ! {
    sys::set_process_name("pyward-zygote");
    // No zygote outlives its supervisor, and no worker outlives its zygote (each worker sets
    // the same on itself), so no worker outlives the supervisor.
    let _ = sys::die_with_parent();
    let started = Instant::now();
    // Started with an empty environment; scrubbing also zeroes the block exec left behind.
    match sys::SingleThreaded::check() {
        Ok(single) => sys::scrub_environment(&single),
        Err(e) => {
            eprintln!("pyward zygote: {e}");
            sys::exit_now(1);
        }
    }
    let mut runtime = match Runtime::new(config) {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            eprintln!(
                "pyward zygote: the interpreter did not start: {}: {}",
                e.kind, e.message
            );
            sys::exit_now(1);
        }
    };
    let sigchld = match sys::sigchld_fd() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("pyward zygote: signalfd: {e}");
            sys::exit_now(1);
        }
    };
    send(
        &control,
        &FromZygote::Warm {
            pid: sys::getpid(),
            warm_ms: started.elapsed().as_millis() as u64,
        },
    );
    let mut children: HashMap<libc::pid_t, Child> = HashMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let ready = match sys::poll_readable(&[control.as_fd(), sigchld.as_fd()], -1) {
            Ok(ready) => ready,
            Err(_) => sys::exit_now(1),
        };
        if ready[1] {
            sys::drain(sigchld.as_fd());
            while let Ok(Some((pid, status))) = sys::reap_any() {
                if let Some(child) = children.remove(&pid) {
                    let mut report = [0u8; 8];
                    let n = sys::read(child.report.as_fd(), &mut report).unwrap_or(0);
                    let ending = Ending::from_status(status, &report[..n]);
                    send(
                        &control,
                        &FromZygote::Exited {
                            id: child.id,
                            pid,
                            ending,
                        },
                    );
                }
            }
        }
        if !ready[0] {
            continue;
        }
        let (n, link) = match sys::recv_packet(control.as_fd(), &mut buf) {
            Ok((0, _)) | Err(_) => {
                for pid in children.keys() {
                    let _ = sys::kill(*pid, libc::SIGKILL);
                }
                sys::exit_now(0);
            }
            Ok(received) => received,
        };
        let request: ToZygote = match serde_json::from_slice(&buf[..n]) {
            Ok(request) => request,
            Err(e) => {
                eprintln!("pyward zygote: malformed request: {e}");
                continue;
            }
        };
        let ToZygote::Spawn { id, limits } = request;
        let Some(link) = link else {
            send(
                &control,
                &FromZygote::SpawnFailed {
                    id,
                    error: "no link fd attached".into(),
                },
            );
            continue;
        };
        match spawn(&mut runtime, &limits, link, &control, &sigchld) {
            Ok((pid, report)) => {
                children.insert(pid, Child { id, report });
                send(&control, &FromZygote::Spawned { id, pid });
            }
            Err(e) => send(
                &control,
                &FromZygote::SpawnFailed {
                    id,
                    error: e.to_string(),
                },
            ),
        }
    }
}

fn spawn(
    runtime: &mut Option<Runtime>,
    limits: &SandboxLimits,
    link: OwnedFd,
    control: &OwnedFd,
    sigchld: &OwnedFd,
) -> std::io::Result<(libc::pid_t, OwnedFd)> {
    let single = sys::SingleThreaded::check()?;
    let (report_read, report_write) = sys::pipe()?;
    let forked = runtime
        .as_ref()
        .expect("the zygote keeps its runtime")
        .fork(&single)?;
    match forked {
        sys::Forked::Child => {
            let _ = (control, sigchld); // closed by the sandbox's fd stage
            let _ = sys::die_with_parent();
            let runtime = runtime.take().expect("the zygote keeps its runtime");
            let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                serve::run(runtime, limits, link, report_write)
            }));
            let _ = served;
            sys::exit_now(WorkerExit::Panic.code())
        }
        sys::Forked::Parent { pid } => Ok((pid, report_read)),
    }
}

/// The supervisor's handle on its zygote (single-threaded use: tests, benchmarks, `pyward run`
/// callers; the daemon drives the same messages from its own task).
#[derive(Debug)]
pub struct ZygoteClient {
    child: std::process::Child,
    control: OwnedFd,
    next_id: u64,
    /// Exits that arrived while waiting for something else.
    exits: HashMap<i32, Ending>,
    /// Workers this zygote forked that have not been reported gone yet.
    spawned: std::collections::HashSet<i32>,
    pub warm_ms: u64,
}

impl ZygoteClient {
    /// Start `exe zygote [--config FILE]` and wait until its interpreter is warm.
    pub fn start(
        exe: &std::path::Path,
        config: Option<&std::path::Path>,
    ) -> std::io::Result<ZygoteClient> {
        let (ours, theirs) = sys::seqpacket_pair()?;
        let mut cmd = std::process::Command::new(exe);
        // Nothing of the supervisor's environment may reach a worker's memory: the zygote
        // starts with none, and the interpreter needs none.
        cmd.arg("zygote").env_clear();
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        let child = sys::spawn_with_fd(&mut cmd, theirs.as_fd(), CONTROL_FD)?;
        drop(theirs);
        let mut client = ZygoteClient {
            child,
            control: ours,
            next_id: 0,
            exits: HashMap::new(),
            spawned: std::collections::HashSet::new(),
            warm_ms: 0,
        };
        match client.recv(Some(Instant::now() + WARM_TIMEOUT))? {
            FromZygote::Warm { warm_ms, .. } => client.warm_ms = warm_ms,
            other => {
                return Err(std::io::Error::other(format!(
                    "zygote said {other:?} before warm"
                )));
            }
        }
        Ok(client)
    }

    fn recv(&mut self, deadline: Option<Instant>) -> std::io::Result<FromZygote> {
        let mut buf = vec![0u8; 64 * 1024];
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
            if !sys::poll_readable(&[self.control.as_fd()], ms)?[0] {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "zygote did not answer",
                ));
            }
        }
        let (n, _) = sys::recv_packet(self.control.as_fd(), &mut buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the zygote exited",
            ));
        }
        serde_json::from_slice(&buf[..n]).map_err(std::io::Error::other)
    }

    /// Fork a confined worker; returns its pid and our end of its link.
    pub fn spawn(&mut self, limits: &SandboxLimits) -> std::io::Result<(i32, OwnedFd)> {
        self.next_id += 1;
        let id = self.next_id;
        let (ours, theirs) = sys::seqpacket_pair()?;
        let body = serde_json::to_vec(&ToZygote::Spawn {
            id,
            limits: limits.clone(),
        })
        .map_err(std::io::Error::other)?;
        sys::send_packet(self.control.as_fd(), &body, Some(theirs.as_fd()))?;
        drop(theirs);
        loop {
            match self.recv(Some(Instant::now() + SPAWN_TIMEOUT))? {
                FromZygote::Spawned { id: got, pid } if got == id => {
                    self.spawned.insert(pid);
                    return Ok((pid, ours));
                }
                FromZygote::SpawnFailed { id: got, error } if got == id => {
                    return Err(std::io::Error::other(error));
                }
                FromZygote::Exited { pid, ending, .. } => {
                    self.exits.insert(pid, ending);
                }
                _ => {}
            }
        }
    }

    /// How worker `pid` ended (waits for the zygote to report it). A pid this zygote never
    /// forked (say, a worker of a zygote that died and was replaced) is an error at once.
    pub fn wait_exit(&mut self, pid: i32, timeout: Duration) -> std::io::Result<Ending> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(ending) = self.exits.remove(&pid) {
                self.spawned.remove(&pid);
                return Ok(ending);
            }
            if !self.spawned.contains(&pid) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("worker {pid} was not forked by this zygote"),
                ));
            }
            if let FromZygote::Exited {
                pid: got, ending, ..
            } = self.recv(Some(deadline))?
            {
                self.exits.insert(got, ending);
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A zygote shared between threads (the daemon's tasks, a benchmark, tests).
pub type SharedZygote = Arc<Mutex<ZygoteClient>>;

/// Fork a worker from `zygote` and wrap it: how it ended is asked of the zygote, which reaps it.
pub fn spawn_worker(
    zygote: &SharedZygote,
    limits: &SandboxLimits,
) -> std::io::Result<WorkerProcess> {
    let (pid, link) = lock(zygote).spawn(limits)?;
    let reaper = zygote.clone();
    Ok(WorkerProcess::adopt_external(
        pid,
        link,
        Box::new(move |pid| {
            lock(&reaper)
                .wait_exit(pid, EXIT_REPORT_TIMEOUT)
                .unwrap_or(Ending::Running)
        }),
    ))
}

/// The zygote client's state stays consistent even if a holder panicked (every method leaves it
/// whole between messages), so a poisoned lock is taken over, not propagated.
fn lock(zygote: &SharedZygote) -> std::sync::MutexGuard<'_, ZygoteClient> {
    zygote
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for ZygoteClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
