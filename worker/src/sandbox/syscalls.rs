//! What the sandbox stages ask of the kernel, as a trait (youki's `Syscall` pattern): the stages
//! in `super` call only [`Sys`], so their order, the fail-closed and degraded decisions and the
//! privilege drop are unit-tested against a recording fake (`super::fake`) without touching the
//! kernel. [`LinuxSys`] is the real kernel, reached through `nix`, `caps`, rust-landlock and
//! [`crate::sys`]; the probe and the escape corpus test it in confined child processes.

#![forbid(unsafe_code)]

use std::io;
use std::os::fd::{OwnedFd, RawFd};

use ::caps::CapSet;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::unistd::{Gid, Uid};

use super::caps::CapabilitySets;
use super::landlock::{Coverage, RulesetPlan};
use super::rlimits::Rlimit;
use crate::sys::{self, SingleThreaded, SockFilter};

/// The kernel calls of the sandbox stages, one method per call, in the order `super::apply`
/// makes them.
pub trait Sys {
    /// Proof that the process has one thread (everything after relies on it).
    fn single_threaded(&self) -> io::Result<SingleThreaded>;

    // stage 1: descriptors, session, environment, signal mask
    fn move_fd(&self, fd: OwnedFd, target: RawFd) -> io::Result<()>;
    fn stdio_to_dev_null(&self) -> io::Result<()>;
    fn close_from(&self, first: RawFd) -> io::Result<()>;
    fn new_session(&self) -> io::Result<()>;
    fn scrub_environment(&self, proof: &SingleThreaded);
    fn environment_is_empty(&self) -> bool;
    fn unblock_all_signals(&self) -> io::Result<()>;

    // stage 2: limits
    fn set_dumpable(&self, dumpable: bool) -> io::Result<()>;
    fn is_dumpable(&self) -> io::Result<bool>;
    fn set_rlimit(&self, limit: &Rlimit) -> io::Result<()>;

    // stage 3: namespaces
    fn unshare(&self, flags: CloneFlags) -> io::Result<()>;

    // stage 4: privileges
    fn parent_pid(&self) -> libc::pid_t;
    fn clear_supplementary_groups(&self) -> io::Result<()>;
    fn set_gid(&self, gid: u32) -> io::Result<()>;
    /// Drop every capability from the bounding set (needs CAP_SETPCAP: before `set_uid`).
    fn clear_bounding_set(&self) -> io::Result<()>;
    fn set_uid(&self, uid: u32) -> io::Result<()>;
    fn die_with_parent(&self) -> io::Result<()>;
    fn clear_ambient_caps(&self) -> io::Result<()>;
    /// Empty the effective, permitted and inheritable sets.
    fn clear_caps(&self) -> io::Result<()>;
    /// (uid, gid) now.
    fn ids(&self) -> (u32, u32);
    fn capability_sets(&self) -> io::Result<CapabilitySets>;

    // stage 5: no new privileges
    fn set_no_new_privs(&self) -> io::Result<()>;
    fn no_new_privs(&self) -> io::Result<bool>;

    // stage 6: Landlock
    /// Restrict this thread with `plan`: the ABI it was built at and how much the kernel
    /// enforced; `Err` when it enforced nothing or could not be asked.
    fn landlock_restrict_self(&self, plan: &RulesetPlan) -> Result<(u32, Coverage), String>;

    // stage 7: seccomp
    fn install_sigsys_reporter(&self, report_fd: RawFd) -> io::Result<()>;
    fn seccomp_install(&self, program: &[SockFilter]) -> io::Result<()>;
}

/// The running kernel.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinuxSys;

fn caps_error(e: ::caps::errors::CapsError) -> io::Error {
    io::Error::other(e.to_string())
}

impl Sys for LinuxSys {
    fn single_threaded(&self) -> io::Result<SingleThreaded> {
        SingleThreaded::check()
    }

    fn move_fd(&self, fd: OwnedFd, target: RawFd) -> io::Result<()> {
        sys::move_fd(fd, target)
    }

    fn stdio_to_dev_null(&self) -> io::Result<()> {
        let null = OwnedFd::from(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")?,
        );
        nix::unistd::dup2_stdin(&null)?;
        nix::unistd::dup2_stdout(&null)?;
        nix::unistd::dup2_stderr(&null)?;
        if std::os::fd::AsRawFd::as_raw_fd(&null) <= 2 {
            // It landed on a standard descriptor, which must stay open.
            let _ = std::os::fd::IntoRawFd::into_raw_fd(null);
        }
        Ok(())
    }

    fn close_from(&self, first: RawFd) -> io::Result<()> {
        sys::close_from(first)
    }

    fn new_session(&self) -> io::Result<()> {
        nix::unistd::setsid()?;
        Ok(())
    }

    fn scrub_environment(&self, proof: &SingleThreaded) {
        sys::scrub_environment(proof)
    }

    fn environment_is_empty(&self) -> bool {
        std::env::vars_os().next().is_none()
    }

    fn unblock_all_signals(&self) -> io::Result<()> {
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
        Ok(())
    }

    fn set_dumpable(&self, dumpable: bool) -> io::Result<()> {
        nix::sys::prctl::set_dumpable(dumpable)?;
        Ok(())
    }

    fn is_dumpable(&self) -> io::Result<bool> {
        Ok(nix::sys::prctl::get_dumpable()?)
    }

    fn set_rlimit(&self, limit: &Rlimit) -> io::Result<()> {
        nix::sys::resource::setrlimit(limit.resource, limit.soft, limit.hard)?;
        Ok(())
    }

    fn unshare(&self, flags: CloneFlags) -> io::Result<()> {
        nix::sched::unshare(flags)?;
        Ok(())
    }

    fn parent_pid(&self) -> libc::pid_t {
        nix::unistd::getppid().as_raw()
    }

    fn clear_supplementary_groups(&self) -> io::Result<()> {
        nix::unistd::setgroups(&[])?;
        Ok(())
    }

    fn set_gid(&self, gid: u32) -> io::Result<()> {
        let gid = Gid::from_raw(gid);
        nix::unistd::setresgid(gid, gid, gid)?;
        Ok(())
    }

    fn clear_bounding_set(&self) -> io::Result<()> {
        ::caps::clear(None, CapSet::Bounding).map_err(caps_error)
    }

    fn set_uid(&self, uid: u32) -> io::Result<()> {
        let uid = Uid::from_raw(uid);
        nix::unistd::setresuid(uid, uid, uid)?;
        Ok(())
    }

    fn die_with_parent(&self) -> io::Result<()> {
        sys::die_with_parent()
    }

    fn clear_ambient_caps(&self) -> io::Result<()> {
        ::caps::clear(None, CapSet::Ambient).map_err(caps_error)
    }

    fn clear_caps(&self) -> io::Result<()> {
        for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
            ::caps::clear(None, set).map_err(caps_error)?;
        }
        Ok(())
    }

    fn ids(&self) -> (u32, u32) {
        (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    }

    fn capability_sets(&self) -> io::Result<CapabilitySets> {
        let (inheritable, permitted, effective, bounding) = sys::capability_masks()?;
        Ok(CapabilitySets {
            inheritable,
            permitted,
            effective,
            bounding,
        })
    }

    fn set_no_new_privs(&self) -> io::Result<()> {
        nix::sys::prctl::set_no_new_privs()?;
        Ok(())
    }

    fn no_new_privs(&self) -> io::Result<bool> {
        Ok(nix::sys::prctl::get_no_new_privs()?)
    }

    fn landlock_restrict_self(&self, plan: &RulesetPlan) -> Result<(u32, Coverage), String> {
        super::landlock::restrict_self(plan)
    }

    fn install_sigsys_reporter(&self, report_fd: RawFd) -> io::Result<()> {
        sys::install_sigsys_reporter(report_fd)
    }

    fn seccomp_install(&self, program: &[SockFilter]) -> io::Result<()> {
        sys::seccomp_install(program)
    }
}
