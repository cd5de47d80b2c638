//! The worker process: confine itself, then serve its module over the link until the
//! supervisor hangs up.

#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;

use pyward_policy::config::{HostCall, SandboxLimits};

use crate::exit::WorkerExit;
use crate::link::{self, FromWorker, HostCallError, Json, RecvError, ToWorker};
use crate::runtime::{HostBridge, Runtime};
use crate::{sandbox, sys};

/// Host calls travel over the link; the worker blocks until the supervisor answers.
struct LinkHost {
    next_id: u64,
}

impl HostBridge for LinkHost {
    fn call(&mut self, call: HostCall, args: Json) -> Result<Json, HostCallError> {
        self.next_id += 1;
        let id = self.next_id;
        let link = sandbox::worker_link();
        link::send(link, &FromWorker::HostCall { id, call, args })
            .map_err(|e| HostCallError::failed(format!("link: {e}")))?;
        match link::recv::<ToWorker>(link, None) {
            Ok(ToWorker::HostResult { id: got, result }) if got == id => result,
            Ok(other) => Err(HostCallError::failed(format!(
                "expected the answer to host call {id}, got {other:?}"
            ))),
            Err(e) => Err(HostCallError::failed(format!("link: {e}"))),
        }
    }
}

/// The forked child's whole life: confine, report, serve, exit. Never returns.
pub fn run(mut runtime: Runtime, limits: &SandboxLimits, link: OwnedFd, report: OwnedFd) -> ! {
    let plan = sandbox::plan(limits, sys::euid(), sys::getpid() as u32);
    match sandbox::apply(&plan, link, report) {
        Ok(sandbox) => {
            if link::send(sandbox::worker_link(), &FromWorker::Ready { sandbox }).is_err() {
                sys::exit_now(WorkerExit::Finished.code());
            }
        }
        Err(error) => {
            // Only the thread check runs before the link reaches its final place.
            if error.layer != sandbox::Stage::Process {
                let _ = link::send(sandbox::worker_link(), &FromWorker::SandboxFailed { error });
            }
            sys::exit_now(WorkerExit::SandboxFailed.code());
        }
    }
    sys::exit_on_allocation_failure();
    runtime.sandbox_applied();
    runtime.set_host(Box::new(LinkHost { next_id: 0 }));
    let link = sandbox::worker_link();
    loop {
        let reply = match link::recv::<ToWorker>(link, None) {
            Ok(ToWorker::Load {
                name,
                source,
                host_calls,
            }) => match runtime.load(&name, &source, &host_calls) {
                Ok(loaded) => FromWorker::Loaded { loaded },
                Err(error) => FromWorker::LoadFailed { error },
            },
            Ok(ToWorker::Call {
                target,
                args,
                event,
            }) => FromWorker::Done {
                outcome: runtime.call(&target, args.get(), event.get()),
            },
            Ok(ToWorker::HostResult { .. }) => continue,
            Err(RecvError::Closed) => sys::exit_now(WorkerExit::Finished.code()),
            Err(_) => sys::exit_now(WorkerExit::LinkFailed.code()),
        };
        if link::send(link, &reply).is_err() {
            sys::exit_now(WorkerExit::Finished.code());
        }
    }
}
