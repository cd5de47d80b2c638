//! A recording fake of the kernel for the stage tests (youki's `TestHelperSyscall`): every call
//! is recorded in order, the state it changes changes as the kernel would change it (ids,
//! capability sets, no_new_privs, dumpable, the environment), and any call can be made to fail.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::os::fd::{OwnedFd, RawFd};

use nix::sched::CloneFlags;

use super::caps::CapabilitySets;
use super::landlock::{Coverage, RulesetPlan};
use super::rlimits::Rlimit;
use super::syscalls::Sys;
use crate::sys::{SingleThreaded, SockFilter};

/// One call a stage made, with the arguments that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    SingleThreaded,
    MoveFd(RawFd),
    StdioToDevNull,
    CloseFrom(RawFd),
    NewSession,
    ScrubEnvironment,
    EnvironmentIsEmpty,
    UnblockAllSignals,
    SetDumpable(bool),
    IsDumpable,
    SetRlimit(&'static str),
    Unshare(CloneFlags),
    ParentPid,
    ClearSupplementaryGroups,
    SetGid(u32),
    ClearBoundingSet,
    SetUid(u32),
    DieWithParent,
    ClearAmbientCaps,
    ClearCaps,
    Ids,
    CapabilitySets,
    SetNoNewPrivs,
    NoNewPrivs,
    LandlockRestrictSelf { read_paths: usize },
    InstallSigsysReporter(RawFd),
    SeccompInstall { instructions: usize },
}

/// Every capability Linux 6.18 defines (0..=40).
pub const ALL_CAPS: u64 = (1 << 41) - 1;

#[derive(Debug)]
struct State {
    uid: u32,
    gid: u32,
    caps: CapabilitySets,
    dumpable: bool,
    no_new_privs: bool,
    environment_empty: bool,
    parent_died: bool,
}

/// The fake kernel. Build one with [`RecordingSys::root`] or [`RecordingSys::user`], adjust it,
/// run the stages on it, then read [`RecordingSys::calls`].
#[derive(Debug)]
pub struct RecordingSys {
    calls: RefCell<Vec<Call>>,
    state: RefCell<State>,
    failing: Vec<fn(&Call) -> bool>,
    landlock: Result<(u32, Coverage), String>,
    bounding_left: u64,
    parent_exits: bool,
    no_new_privs_sticks: bool,
}

impl RecordingSys {
    fn with(state: State) -> RecordingSys {
        RecordingSys {
            calls: RefCell::new(Vec::new()),
            state: RefCell::new(state),
            failing: Vec::new(),
            landlock: Ok((7, Coverage::Full)),
            bounding_left: 0,
            parent_exits: false,
            no_new_privs_sticks: true,
        }
    }

    /// A process running as root with every capability.
    pub fn root() -> RecordingSys {
        RecordingSys::with(State {
            uid: 0,
            gid: 0,
            caps: CapabilitySets {
                inheritable: 0,
                permitted: ALL_CAPS,
                effective: ALL_CAPS,
                bounding: ALL_CAPS,
            },
            dumpable: true,
            no_new_privs: false,
            environment_empty: false,
            parent_died: false,
        })
    }

    /// A process running as `uid`, with no capabilities but a full bounding set.
    pub fn user(uid: u32) -> RecordingSys {
        RecordingSys::with(State {
            uid,
            gid: uid,
            caps: CapabilitySets {
                bounding: ALL_CAPS,
                ..CapabilitySets::default()
            },
            dumpable: true,
            no_new_privs: false,
            environment_empty: false,
            parent_died: false,
        })
    }

    /// Calls `which` picks fail with EPERM (they are still recorded).
    pub fn failing(mut self, which: fn(&Call) -> bool) -> RecordingSys {
        self.failing.push(which);
        self
    }

    /// What Landlock's restrict_self answers.
    pub fn landlock(mut self, answer: Result<(u32, Coverage), String>) -> RecordingSys {
        self.landlock = answer;
        self
    }

    /// Capabilities the bounding-set drop leaves behind (as one newer than the `caps` crate
    /// knows would be).
    pub fn leaving_in_bounding_set(mut self, mask: u64) -> RecordingSys {
        self.bounding_left = mask;
        self
    }

    /// The parent exits once the parent-death signal is armed.
    pub fn parent_exits(mut self) -> RecordingSys {
        self.parent_exits = true;
        self
    }

    /// PR_GET_NO_NEW_PRIVS answers 0 even after it was set.
    pub fn no_new_privs_does_not_stick(mut self) -> RecordingSys {
        self.no_new_privs_sticks = false;
        self
    }

    /// Every call made so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: Call) -> io::Result<()> {
        let fails = self.failing.iter().any(|which| which(&call));
        self.calls.borrow_mut().push(call);
        if fails {
            Err(io::Error::from_raw_os_error(libc::EPERM))
        } else {
            Ok(())
        }
    }
}

impl Sys for RecordingSys {
    fn single_threaded(&self) -> io::Result<SingleThreaded> {
        self.record(Call::SingleThreaded)?;
        Ok(SingleThreaded::assumed_for_tests())
    }

    fn move_fd(&self, fd: OwnedFd, target: RawFd) -> io::Result<()> {
        drop(fd);
        self.record(Call::MoveFd(target))
    }

    fn stdio_to_dev_null(&self) -> io::Result<()> {
        self.record(Call::StdioToDevNull)
    }

    fn close_from(&self, first: RawFd) -> io::Result<()> {
        self.record(Call::CloseFrom(first))
    }

    fn new_session(&self) -> io::Result<()> {
        self.record(Call::NewSession)
    }

    fn scrub_environment(&self, _proof: &SingleThreaded) {
        let _ = self.record(Call::ScrubEnvironment);
        self.state.borrow_mut().environment_empty = true;
    }

    fn environment_is_empty(&self) -> bool {
        let _ = self.record(Call::EnvironmentIsEmpty);
        self.state.borrow().environment_empty
    }

    fn unblock_all_signals(&self) -> io::Result<()> {
        self.record(Call::UnblockAllSignals)
    }

    fn set_dumpable(&self, dumpable: bool) -> io::Result<()> {
        self.record(Call::SetDumpable(dumpable))?;
        self.state.borrow_mut().dumpable = dumpable;
        Ok(())
    }

    fn is_dumpable(&self) -> io::Result<bool> {
        self.record(Call::IsDumpable)?;
        Ok(self.state.borrow().dumpable)
    }

    fn set_rlimit(&self, limit: &Rlimit) -> io::Result<()> {
        self.record(Call::SetRlimit(limit.name))
    }

    fn unshare(&self, flags: CloneFlags) -> io::Result<()> {
        self.record(Call::Unshare(flags))
    }

    fn parent_pid(&self) -> libc::pid_t {
        let _ = self.record(Call::ParentPid);
        if self.state.borrow().parent_died {
            1
        } else {
            4242
        }
    }

    fn clear_supplementary_groups(&self) -> io::Result<()> {
        self.record(Call::ClearSupplementaryGroups)
    }

    fn set_gid(&self, gid: u32) -> io::Result<()> {
        self.record(Call::SetGid(gid))?;
        self.state.borrow_mut().gid = gid;
        Ok(())
    }

    fn clear_bounding_set(&self) -> io::Result<()> {
        self.record(Call::ClearBoundingSet)?;
        let mut state = self.state.borrow_mut();
        state.caps.bounding &= self.bounding_left;
        Ok(())
    }

    fn set_uid(&self, uid: u32) -> io::Result<()> {
        self.record(Call::SetUid(uid))?;
        let mut state = self.state.borrow_mut();
        state.uid = uid;
        if uid != 0 {
            // Leaving uid 0 empties the permitted, effective and ambient sets (no keepcaps).
            state.caps.permitted = 0;
            state.caps.effective = 0;
        }
        Ok(())
    }

    fn die_with_parent(&self) -> io::Result<()> {
        self.record(Call::DieWithParent)?;
        if self.parent_exits {
            self.state.borrow_mut().parent_died = true;
        }
        Ok(())
    }

    fn clear_ambient_caps(&self) -> io::Result<()> {
        self.record(Call::ClearAmbientCaps)
    }

    fn clear_caps(&self) -> io::Result<()> {
        self.record(Call::ClearCaps)?;
        let mut state = self.state.borrow_mut();
        state.caps = CapabilitySets {
            bounding: state.caps.bounding,
            ..CapabilitySets::default()
        };
        Ok(())
    }

    fn ids(&self) -> (u32, u32) {
        let _ = self.record(Call::Ids);
        let state = self.state.borrow();
        (state.uid, state.gid)
    }

    fn capability_sets(&self) -> io::Result<CapabilitySets> {
        self.record(Call::CapabilitySets)?;
        Ok(self.state.borrow().caps)
    }

    fn set_no_new_privs(&self) -> io::Result<()> {
        self.record(Call::SetNoNewPrivs)?;
        self.state.borrow_mut().no_new_privs = self.no_new_privs_sticks;
        Ok(())
    }

    fn no_new_privs(&self) -> io::Result<bool> {
        self.record(Call::NoNewPrivs)?;
        Ok(self.state.borrow().no_new_privs)
    }

    fn landlock_restrict_self(&self, plan: &RulesetPlan) -> Result<(u32, Coverage), String> {
        self.record(Call::LandlockRestrictSelf {
            read_paths: plan.read_paths.len(),
        })
        .map_err(|e| e.to_string())?;
        self.landlock.clone()
    }

    fn install_sigsys_reporter(&self, report_fd: RawFd) -> io::Result<()> {
        self.record(Call::InstallSigsysReporter(report_fd))
    }

    fn seccomp_install(&self, program: &[SockFilter]) -> io::Result<()> {
        self.record(Call::SeccompInstall {
            instructions: program.len(),
        })
    }
}
