//! The exit codes a worker process ends with, named once: the worker picks one to say why it
//! ended, and whoever reaps it ([`crate::process::Ending`], [`crate::verdict`]) reads it back.
//! Module code that calls `os._exit` can exit with any code, so a code says what it claims,
//! not who chose it.

#![forbid(unsafe_code)]

/// Why a worker process exited, as its exit code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerExit {
    /// The supervisor hung up (or stopped listening): nothing more to serve.
    Finished,
    /// The link failed: a message the worker could not read, or an error reading it.
    LinkFailed,
    /// The sandbox could not be applied; the reason went over the link when it could.
    SandboxFailed,
    /// A memory allocation failed (RLIMIT_AS or the cgroup's memory.max): reported instead of an
    /// abort, so that "out of memory" is told apart from a crash.
    OutOfMemory,
    /// pyward's own worker code panicked (Rust's code for a panic).
    Panic,
    /// seccomp trapped a system call; the SIGSYS reporter exits with this (like a death by
    /// SIGSYS: 128 + 31), after writing the call's number on the report pipe.
    Seccomp,
}

impl WorkerExit {
    pub const ALL: [WorkerExit; 6] = [
        WorkerExit::Finished,
        WorkerExit::LinkFailed,
        WorkerExit::SandboxFailed,
        WorkerExit::OutOfMemory,
        WorkerExit::Panic,
        WorkerExit::Seccomp,
    ];

    /// The exit code.
    pub const fn code(self) -> i32 {
        match self {
            WorkerExit::Finished => 0,
            WorkerExit::LinkFailed => 1,
            WorkerExit::SandboxFailed => 70,
            WorkerExit::OutOfMemory => 72,
            WorkerExit::Panic => 101,
            WorkerExit::Seccomp => 128 + libc::SIGSYS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exit_has_its_own_code() {
        let mut codes: Vec<i32> = WorkerExit::ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), WorkerExit::ALL.len(), "two exits share a code");
        // The codes other programs and the docs know.
        assert_eq!(WorkerExit::SandboxFailed.code(), 70);
        assert_eq!(WorkerExit::OutOfMemory.code(), 72);
        assert_eq!(WorkerExit::Panic.code(), 101);
        assert_eq!(WorkerExit::Seccomp.code(), 159);
    }
}
