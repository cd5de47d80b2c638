//! Every `unsafe` call pyward makes lives here: thin wrappers over the system calls the sandbox,
//! the zygote and the worker link need. Each wrapper checks the return value and turns it into
//! an `io::Result`; each `unsafe` block says which invariant makes it sound.
//!
//! Nothing here decides anything: what to apply is computed elsewhere, as plain values.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_long(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The result of [`fork`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    Child,
    Parent { pid: libc::pid_t },
}

/// Proof that the process had exactly one thread when it was made. Operations that are only
/// sound single-threaded (fork without exec, changing the environment) take it.
#[derive(Debug)]
pub struct SingleThreaded(());

impl SingleThreaded {
    /// Check `/proc/self/status`. Fails if there is more than one thread.
    pub fn check() -> io::Result<SingleThreaded> {
        match thread_count()? {
            1 => Ok(SingleThreaded(())),
            n => Err(io::Error::other(format!(
                "{n} threads running; this needs a single-threaded process"
            ))),
        }
    }
}

/// Fork the calling process (which the token proves is single-threaded, so no other thread
/// can hold a lock the child would need).
pub fn fork(_proof: &SingleThreaded) -> io::Result<Forked> {
    // SAFETY: single-threaded (the token), so the child inherits no lock held by another thread.
    let pid = check(unsafe { libc::fork() })?;
    Ok(if pid == 0 {
        Forked::Child
    } else {
        Forked::Parent { pid }
    })
}

/// How many threads this process has (from /proc/self/status).
pub fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads: line in /proc/self/status"))
}

/// Move `fd` to exactly `target` (dup2, then close the original if it differs).
pub fn move_fd(fd: OwnedFd, target: RawFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    if raw == target {
        // Keep it open past OwnedFd's drop and clear close-on-exec is irrelevant: we never exec.
        std::mem::forget(fd);
        return Ok(());
    }
    // SAFETY: dup2 on a valid fd we own; `target` is replaced atomically by the kernel.
    check(unsafe { libc::dup2(raw, target) })?;
    drop(fd);
    Ok(())
}

/// Close every fd from `first` upwards.
pub fn close_from(first: RawFd) -> io::Result<()> {
    // SAFETY: close_range only closes descriptors; callers moved the ones they keep below `first`,
    // and no OwnedFd above `first` is used afterwards (the process is about to run untrusted code).
    check_long(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        )
    })?;
    Ok(())
}

/// Point stdin, stdout and stderr at /dev/null.
pub fn stdio_to_dev_null() -> io::Result<()> {
    let path = CString::new("/dev/null").expect("no NUL in a literal");
    // SAFETY: open with a valid NUL-terminated path; the result is checked.
    let fd = check(unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
    for target in 0..=2 {
        // SAFETY: dup2 of a valid fd onto the standard descriptors.
        check(unsafe { libc::dup2(fd, target) })?;
    }
    if fd > 2 {
        // SAFETY: `fd` is ours and no longer needed.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Start a new session: no controlling terminal, so TIOCSTI-style ioctls reach nothing.
pub fn new_session() -> io::Result<()> {
    // SAFETY: setsid has no memory-safety preconditions.
    check(unsafe { libc::setsid() }).map(|_| ())
}

pub fn set_dumpable(dumpable: bool) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe {
        libc::prctl(
            libc::PR_SET_DUMPABLE,
            libc::c_ulong::from(dumpable),
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

pub fn is_dumpable() -> io::Result<bool> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }).map(|v| v != 0)
}

pub fn set_rlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `limit` is a valid rlimit that outlives the call.
    check(unsafe { libc::setrlimit(resource, &limit) }).map(|_| ())
}

pub fn get_rlimit(resource: libc::__rlimit_resource_t) -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    check(unsafe { libc::getrlimit(resource, &mut limit) })?;
    Ok((limit.rlim_cur, limit.rlim_max))
}

pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes flags only; the process is single-threaded (checked by the caller).
    check(unsafe { libc::unshare(flags) }).map(|_| ())
}

pub fn uid() -> u32 {
    // SAFETY: getuid cannot fail and has no preconditions.
    unsafe { libc::getuid() }
}

pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

pub fn gid() -> u32 {
    // SAFETY: getgid cannot fail and has no preconditions.
    unsafe { libc::getgid() }
}

pub fn clear_supplementary_groups() -> io::Result<()> {
    // SAFETY: a zero-length list with a null pointer is the documented way to clear groups.
    check(unsafe { libc::setgroups(0, std::ptr::null()) }).map(|_| ())
}

pub fn set_gid(gid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresgid(gid, gid, gid) }).map(|_| ())
}

pub fn set_uid(uid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresuid(uid, uid, uid) }).map(|_| ())
}

/// Drop capability `cap` from the bounding set (needs CAP_SETPCAP).
pub fn drop_bounding_cap(cap: u32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) })
        .map(|_| ())
}

/// Is `cap` still in the bounding set? `Ok(None)` when the kernel does not know the capability.
pub fn bounding_has(cap: u32) -> io::Result<Option<bool>> {
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap), 0, 0, 0) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINVAL) {
            return Ok(None);
        }
        return Err(err);
    }
    Ok(Some(ret == 1))
}

pub fn clear_ambient_caps() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Empty the effective, permitted and inheritable sets of this thread.
pub fn clear_caps() -> io::Result<()> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: header and a two-element data array (the v3 layout) are valid for the call.
    check_long(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) }).map(|_| ())
}

/// (effective, permitted, inheritable) as 64-bit masks.
pub fn get_caps() -> io::Result<(u64, u64, u64)> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and a writable two-element data array (the v3 layout).
    check_long(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    ))
}

pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(|_| ())
}

pub fn no_new_privs() -> io::Result<bool> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) }).map(|v| v == 1)
}

// --- Landlock (syscall numbers are the same on every architecture) ---------------------------

const SYS_LANDLOCK_CREATE_RULESET: libc::c_long = 444;
const SYS_LANDLOCK_ADD_RULE: libc::c_long = 445;
const SYS_LANDLOCK_RESTRICT_SELF: libc::c_long = 446;
const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
const LANDLOCK_RULE_PATH_BENEATH: libc::c_int = 1;

/// The Landlock ABI version the running kernel offers, or the error (ENOSYS, EOPNOTSUPP).
pub fn landlock_abi() -> io::Result<u32> {
    // SAFETY: the version query takes a null attribute pointer and size 0 by definition.
    let v = check_long(unsafe {
        libc::syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    })?;
    Ok(v as u32)
}

/// `struct landlock_ruleset_attr`; `size` passed to the kernel selects how many fields it reads.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LandlockRulesetAttr {
    pub handled_access_fs: u64,
    pub handled_access_net: u64,
    pub scoped: u64,
}

pub fn landlock_create_ruleset(attr: &LandlockRulesetAttr, size: usize) -> io::Result<OwnedFd> {
    assert!(size <= std::mem::size_of::<LandlockRulesetAttr>());
    // SAFETY: `attr` is valid for `size` bytes (asserted above); the result is a new fd we own.
    let fd = check_long(unsafe {
        libc::syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            attr as *const LandlockRulesetAttr,
            size,
            0u32,
        )
    })?;
    // SAFETY: the kernel just returned this fd to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[repr(C, packed)]
struct LandlockPathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

pub fn landlock_allow_beneath(
    ruleset: BorrowedFd<'_>,
    parent: BorrowedFd<'_>,
    access: u64,
) -> io::Result<()> {
    let attr = LandlockPathBeneathAttr {
        allowed_access: access,
        parent_fd: parent.as_raw_fd(),
    };
    // SAFETY: `attr` is a valid packed path_beneath attribute for the duration of the call.
    check_long(unsafe {
        libc::syscall(
            SYS_LANDLOCK_ADD_RULE,
            ruleset.as_raw_fd(),
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const LandlockPathBeneathAttr,
            0u32,
        )
    })
    .map(|_| ())
}

pub fn landlock_restrict_self(ruleset: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: integer arguments only; the ruleset fd is valid.
    check_long(unsafe { libc::syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset.as_raw_fd(), 0u32) })
        .map(|_| ())
}

/// Open a path for use as a Landlock rule anchor (O_PATH: grants no access by itself).
pub fn open_path(path: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    // SAFETY: valid NUL-terminated path; the fd returned is ours.
    let fd = check(unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned this fd to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

// --- seccomp ----------------------------------------------------------------------------------

/// One classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const SockFilter,
}

/// Install a seccomp filter on this thread. Needs no_new_privs (or CAP_SYS_ADMIN).
pub fn seccomp_install(program: &[SockFilter]) -> io::Result<()> {
    let len = libc::c_ushort::try_from(program.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?;
    let prog = SockFprog {
        len,
        filter: program.as_ptr(),
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the kernel copies it.
    check(unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &prog as *const SockFprog,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// Is a seccomp filter in force on this thread?
pub fn seccomp_mode() -> io::Result<i32> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) })
}

/// Where the SIGSYS reporter writes the denied syscall's number.
static SIGSYS_REPORT_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn report_sigsys(
    _sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    // Only async-signal-safe calls here: write(2) and _exit(2).
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; for SIGSYS from seccomp,
    // `si_syscall` is the int at offset 24 (after si_signo, si_errno, si_code, pad, si_call_addr).
    let nr: i32 = unsafe { *((info as *const u8).add(24) as *const i32) };
    let fd = SIGSYS_REPORT_FD.load(std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        let bytes = nr.to_le_bytes();
        // SAFETY: write of a 4-byte stack buffer to an fd we own; errors are irrelevant here.
        unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    }
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(crate::exit::WorkerExit::Seccomp.code()) };
}

/// Install the SIGSYS handler that reports a trapped syscall's number on `report_fd`, then exits.
/// The seccomp filter itself forbids changing this handler afterwards.
pub fn install_sigsys_reporter(report_fd: RawFd) -> io::Result<()> {
    SIGSYS_REPORT_FD.store(report_fd, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: a zeroed sigaction is a valid starting value; we set handler, flags and mask.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = report_sigsys as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO;
    // SAFETY: sa_mask is a valid sigset_t inside `action`.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: `action` is fully initialised and outlives the call.
    check(unsafe { libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()) }).map(|_| ())
}

/// Unblock every signal (a worker must not inherit a mask that hides SIGSYS or SIGXCPU).
pub fn unblock_all_signals() -> io::Result<()> {
    // SAFETY: a zeroed sigset is valid; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    // SAFETY: valid sigset pointer; the old mask is not needed.
    check(unsafe { libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) }).map(|_| ())
}

// --- processes --------------------------------------------------------------------------------

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

/// Wait for `pid`; `block: false` returns `Ok(None)` if it is still running.
pub fn wait_pid(pid: libc::pid_t, block: bool) -> io::Result<Option<ExitStatus>> {
    let mut status = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let ret = unsafe { libc::waitpid(pid, &mut status, flags) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if ret == 0 {
            return Ok(None);
        }
        return Ok(Some(if libc::WIFEXITED(status) {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        } else {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        }));
    }
}

/// Reap any one child that has ended, without blocking: `(pid, status)`.
pub fn reap_any() -> io::Result<Option<(libc::pid_t, ExitStatus)>> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    let ret = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ECHILD) {
            return Ok(None);
        }
        return Err(err);
    }
    if ret == 0 {
        return Ok(None);
    }
    let st = if libc::WIFEXITED(status) {
        ExitStatus::Exited(libc::WEXITSTATUS(status))
    } else {
        ExitStatus::Signaled(libc::WTERMSIG(status))
    };
    Ok(Some((ret, st)))
}

pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::kill(pid, signal) }).map(|_| ())
}

/// Ask the kernel to SIGKILL this process when its parent dies (no worker outlives the zygote).
pub fn die_with_parent() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

pub fn getppid() -> libc::pid_t {
    // SAFETY: getppid cannot fail.
    unsafe { libc::getppid() }
}

pub fn getpid() -> libc::pid_t {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// Exit now, without running destructors or atexit handlers (for forked children).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

// --- sockets ----------------------------------------------------------------------------------

/// A connected pair of SOCK_SEQPACKET Unix sockets (close-on-exec).
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element out-array.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: the kernel just returned these two fds to us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe (close-on-exec): (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element out-array.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned these two fds to us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Send one datagram, optionally carrying one fd (SCM_RIGHTS).
pub fn send_packet(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // Room for one fd of control data, 8-byte aligned.
    let mut control = [0u64; 4];
    // SAFETY: a zeroed msghdr is valid; we fill in the fields we use.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE is a pure size computation.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: msg_control points at `control`, large enough for one fd's cmsg (asserted by
        // the size of `control` versus CMSG_SPACE(4) = 24 bytes).
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd.as_raw_fd());
        }
    }
    loop {
        // SAFETY: `msg` and everything it points at are valid for the call.
        let ret = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok(());
    }
}

/// Receive one datagram into `buf`, with an fd if one was attached. `Ok((0, None))` at EOF.
/// A datagram larger than `buf` is an error (it was truncated).
pub fn recv_packet(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 4];
    // SAFETY: a zeroed msghdr is valid; we fill in the fields we use.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    let n = loop {
        // SAFETY: `msg` points at `buf` and `control`, both valid and writable.
        let ret = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        break ret as usize;
    };
    let mut received = None;
    // SAFETY: iterating the control messages the kernel wrote into `control`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
                received = Some(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_TRUNC != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "datagram truncated",
        ));
    }
    Ok((n, received))
}

/// Wait until `fd` is readable or `timeout_ms` passes (-1: forever). Returns readiness.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `pollfds` is a valid array of `len` pollfd structs.
        let ret = unsafe {
            libc::poll(
                pollfds.as_mut_ptr(),
                pollfds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok(pollfds
            .iter()
            .map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
            .collect());
    }
}

/// Read whatever is available (non-blocking semantics are the caller's business).
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid and writable for its length.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Fill `buf` from the kernel's random source.
pub fn getrandom(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        filled += n as usize;
    }
    Ok(())
}

/// Block SIGCHLD and return a signalfd that reports it (the zygote's wake-up on child exit).
pub fn sigchld_fd() -> io::Result<OwnedFd> {
    // SAFETY: a zeroed sigset is valid; sigemptyset/sigaddset initialise it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
    }
    // SAFETY: valid sigset pointer.
    check(unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) })?;
    // SAFETY: valid sigset pointer; -1 asks for a new fd.
    let fd = check(unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) })?;
    // SAFETY: the kernel just returned this fd to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Set the process's name as `ps` and `/proc/PID/comm` show it.
pub fn set_process_name(name: &str) {
    if let Ok(c) = CString::new(name) {
        // SAFETY: PR_SET_NAME reads at most 16 bytes from a valid NUL-terminated string.
        unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0) };
    }
}

/// The supervisor link inside a sandboxed worker (where [`crate::sandbox::apply`] put it).
pub fn worker_link() -> BorrowedFd<'static> {
    // SAFETY: `sandbox::apply` moved the link to this fd number and nothing in the worker closes
    // it; it stays open until the process exits.
    unsafe { BorrowedFd::borrow_raw(crate::sandbox::LINK_FD) }
}

// --- allocation failure ---------------------------------------------------------------------

static REPORT_ALLOC_FAILURE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// From now on, an allocation failure ends the process with the exit code of
/// [`OutOfMemory`](crate::exit::WorkerExit::OutOfMemory) instead of an abort, so that the
/// supervisor can tell "out of memory" from a crash. Workers only.
pub fn exit_on_allocation_failure() {
    REPORT_ALLOC_FAILURE.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The system allocator, plus [`exit_on_allocation_failure`]. The `pyward` binary installs it.
#[derive(Debug)]
pub struct WorkerAllocator;

// SAFETY: every method forwards to `System` unchanged; on a null result (allocation failure)
// it may instead end the process, which never hands an invalid pointer to the caller.
unsafe impl std::alloc::GlobalAlloc for WorkerAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: same contract as ours, forwarded.
        let p = unsafe { std::alloc::System.alloc(layout) };
        if p.is_null() {
            out_of_memory();
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: same contract as ours, forwarded.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: same contract as ours, forwarded.
        let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if p.is_null() {
            out_of_memory();
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as ours, forwarded.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            out_of_memory();
        }
        p
    }
}

fn out_of_memory() {
    if REPORT_ALLOC_FAILURE.load(std::sync::atomic::Ordering::Relaxed) {
        exit_now(crate::exit::WorkerExit::OutOfMemory.code());
    }
}

/// Spawn `cmd` with `fd` placed at `target` in the child (and nothing else inherited but
/// stdio): how the supervisor hands the zygote its control socket.
pub fn spawn_with_fd(
    cmd: &mut std::process::Command,
    fd: BorrowedFd<'_>,
    target: RawFd,
) -> io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let raw = fd.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec and only calls dup2 and fcntl,
    // both async-signal-safe; it touches no memory shared with other threads.
    unsafe {
        cmd.pre_exec(move || {
            if raw == target {
                let flags = libc::fcntl(raw, libc::F_GETFD);
                if flags < 0 || libc::fcntl(raw, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(raw, target) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    };
    cmd.spawn()
}

/// Drain a signalfd (the zygote only needs to know that something happened).
pub fn drain(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 128 * 8];
    while read(fd, &mut buf).is_ok_and(|n| n > 0) {}
}

/// Take ownership of an fd number inherited at exec time (the zygote's control socket).
pub fn inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: the fd is open (checked above) and was handed to this process to own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// access(path, W_OK) for the real uid.
pub fn access_writable(path: &std::ffi::CStr) -> bool {
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

/// CPU time (user + system) a process has used so far, from /proc/PID/stat.
pub fn cpu_seconds_used(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf takes an integer name and has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

// --- the embedded interpreter (CPython's C API) -------------------------------------------------

/// `wchar_t` text for CPython's configuration API (UTF-32 on Linux), NUL-terminated.
fn wide(text: &str) -> Vec<libc::wchar_t> {
    text.chars()
        .map(|c| c as libc::wchar_t)
        .chain(std::iter::once(0))
        .collect()
}

fn status_message(status: &pyo3::ffi::PyStatus) -> String {
    if status.err_msg.is_null() {
        return "unknown error".to_string();
    }
    // SAFETY: CPython sets err_msg to a static NUL-terminated C string when it is not null.
    unsafe { std::ffi::CStr::from_ptr(status.err_msg) }
        .to_string_lossy()
        .into_owned()
}

/// Start CPython in this process: isolated (no environment variables, no user site, no `site`
/// at all), no bytecode written, no signal handlers, `sys.path` exactly `paths`, with `home`
/// as its prefix. Afterwards the calling thread does not hold the GIL (pyo3 takes it as
/// needed). Once per process.
pub fn python_initialize(home: &str, paths: &[String]) -> Result<(), String> {
    use pyo3::ffi;
    // SAFETY: Py_IsInitialized may be called at any time.
    if unsafe { ffi::Py_IsInitialized() } != 0 {
        return Err("the interpreter is already initialised in this process".into());
    }
    let home = wide(home);
    let paths: Vec<Vec<libc::wchar_t>> = paths.iter().map(|p| wide(p)).collect();
    let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::uninit();
    let cfg = config.as_mut_ptr();
    // SAFETY: PyConfig_InitIsolatedConfig fully initialises the struct behind `cfg`; every
    // later access goes through that initialised struct, every string passed is a
    // NUL-terminated wchar_t buffer that outlives the call (CPython copies it), and the config
    // is cleared exactly once. Py_InitializeFromConfig runs before any other Python API use.
    unsafe {
        ffi::PyConfig_InitIsolatedConfig(cfg);
        (*cfg).site_import = 0;
        (*cfg).user_site_directory = 0;
        (*cfg).write_bytecode = 0;
        (*cfg).install_signal_handlers = 0;
        (*cfg).use_environment = 0;
        (*cfg).parse_argv = 0;
        (*cfg).pathconfig_warnings = 0;
        (*cfg).faulthandler = 0;
        (*cfg).safe_path = 1;
        (*cfg).module_search_paths_set = 1;
        let mut status = ffi::PyConfig_SetString(cfg, &raw mut (*cfg).home, home.as_ptr());
        for path in &paths {
            if ffi::PyStatus_Exception(status) != 0 {
                break;
            }
            status =
                ffi::PyWideStringList_Append(&raw mut (*cfg).module_search_paths, path.as_ptr());
        }
        if ffi::PyStatus_Exception(status) == 0 {
            status = ffi::Py_InitializeFromConfig(cfg);
        }
        ffi::PyConfig_Clear(cfg);
        if ffi::PyStatus_Exception(status) != 0 {
            return Err(status_message(&status));
        }
        // Hand the GIL back: pyo3 takes it (PyGILState_Ensure) wherever Python is used.
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// Fork an interpreter-holding process the way `os.fork` does: CPython's before-fork hooks and
/// import lock in the parent, its after-fork reinitialisation in the child (thread state, the
/// import lock, `os.register_at_fork` handlers such as `random` reseeding itself).
pub fn fork_python(_py: pyo3::Python<'_>, proof: &SingleThreaded) -> io::Result<Forked> {
    // SAFETY: the `Python` token proves this thread holds the GIL, which these three need.
    unsafe { pyo3::ffi::PyOS_BeforeFork() };
    let forked = fork(proof);
    match forked {
        // SAFETY: as above; in the child, first thing after fork, as CPython requires.
        Ok(Forked::Child) => unsafe { pyo3::ffi::PyOS_AfterFork_Child() },
        // SAFETY: as above.
        _ => unsafe { pyo3::ffi::PyOS_AfterFork_Parent() },
    }
    forked
}

/// The builtins namespace of the Python code running now (the caller of whatever raised an
/// audit event), compared by identity.
pub fn python_caller_builtins(_py: pyo3::Python<'_>) -> usize {
    // SAFETY: with the GIL held (the token), PyEval_GetBuiltins returns a borrowed pointer that
    // is only compared, never dereferenced.
    unsafe { pyo3::ffi::PyEval_GetBuiltins() as usize }
}

type AuditHookFn = unsafe extern "C" fn(
    *const libc::c_char,
    *mut pyo3::ffi::PyObject,
    *mut libc::c_void,
) -> libc::c_int;

unsafe extern "C" {
    fn PySys_AddAuditHook(hook: AuditHookFn, user_data: *mut libc::c_void) -> libc::c_int;
}

/// Decides an audit event: `Err` refuses it (the error is raised where the event happened).
pub type AuditDecider =
    fn(pyo3::Python<'_>, &str, &pyo3::Bound<'_, pyo3::types::PyTuple>) -> pyo3::PyResult<()>;

static AUDIT_DECIDER: std::sync::OnceLock<AuditDecider> = std::sync::OnceLock::new();

unsafe extern "C" fn audit_trampoline(
    event: *const libc::c_char,
    args: *mut pyo3::ffi::PyObject,
    _data: *mut libc::c_void,
) -> libc::c_int {
    let Some(decide) = AUDIT_DECIDER.get() else {
        return 0;
    };
    // SAFETY: CPython calls audit hooks with the GIL held.
    let py = unsafe { pyo3::Python::assume_attached() };
    // SAFETY: `event` is a NUL-terminated string CPython owns for the duration of the call.
    let event = unsafe { std::ffi::CStr::from_ptr(event) }.to_string_lossy();
    // SAFETY: `args` is a borrowed reference to a tuple, valid for the duration of the call.
    let args = unsafe { pyo3::Bound::from_borrowed_ptr(py, args) };
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match args
            .cast::<pyo3::types::PyTuple>()
        {
            Ok(tuple) => decide(py, &event, tuple),
            Err(_) => Ok(()),
        }));
    match outcome {
        Ok(Ok(())) => 0,
        Ok(Err(error)) => {
            error.restore(py);
            -1
        }
        Err(_) => {
            pyo3::exceptions::PyRuntimeError::new_err("pyward: the audit hook failed").restore(py);
            -1
        }
    }
}

/// Install `decide` as a PEP 578 audit hook. Hooks added through the C API cannot be removed
/// (Python code can only add more), and they see every audit event of the interpreter.
pub fn python_add_audit_hook(_py: pyo3::Python<'_>, decide: AuditDecider) -> io::Result<()> {
    if AUDIT_DECIDER.set(decide).is_err() {
        return Err(io::Error::other("an audit hook is already installed"));
    }
    // SAFETY: the GIL is held (the token); the hook is a plain function that lives forever.
    let ret = unsafe { PySys_AddAuditHook(audit_trampoline, std::ptr::null_mut()) };
    if ret != 0 {
        return Err(io::Error::other("PySys_AddAuditHook refused the hook"));
    }
    Ok(())
}

// --- the inherited environment ----------------------------------------------------------------

unsafe extern "C" {
    static mut environ: *mut *mut libc::c_char;
}

/// Overwrite every environment string this process holds, then empty the environment: the
/// strings `environ` points to (the kernel's block on the stack, or copies setenv made) and the
/// kernel's original block itself (what `/proc/PID/environ` shows), so that no secret of the
/// caller is left in this process's memory for code running in it to find.
pub fn scrub_environment(_proof: &SingleThreaded) {
    // SAFETY: single-threaded (the token): nothing else reads or changes the environment while
    // we walk it. Each entry is a valid NUL-terminated string that we own and may overwrite in
    // place (environment strings are writable memory); clearenv frees only the array.
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let text = *entry;
            let len = libc::strlen(text);
            std::ptr::write_bytes(text, 0, len);
            entry = entry.add(1);
        }
        libc::clearenv();
    }
    if let Some((start, end)) = original_environment_block() {
        // SAFETY: [start, end) is the environment block the kernel copied onto this process's
        // stack at exec (from /proc/self/stat); it stays mapped and writable for the life of
        // the process, and nothing refers to it any more after clearenv above.
        unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
    }
}

/// `env_start` and `env_end` from /proc/self/stat (fields 50 and 51).
fn original_environment_block() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    // Field numbering in proc(5) starts at 1 with the pid; after the command name, field 3 is
    // index 0 here.
    let start: usize = fields.get(50 - 3)?.parse().ok()?;
    let end: usize = fields.get(51 - 3)?.parse().ok()?;
    (start != 0 && end > start).then_some((start, end))
}
