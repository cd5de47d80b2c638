//! The one module of pyward that may use `unsafe` (the crate root denies it, every other module
//! forbids it). What is here and why:
//!
//! * calls no safe crate covers, or covers only by losing something pyward needs: `fork`
//!   (sound only single-threaded, so `nix` marks it unsafe too), moving a descriptor to a fixed
//!   number and `close_range` (both close descriptors some other owner may hold), `waitpid`
//!   (`nix` fails after reaping a child killed by a real-time signal, losing its status),
//!   `_exit`, taking ownership of a descriptor received over `SCM_RIGHTS` or inherited at exec,
//!   the Landlock ABI query (rust-landlock keeps its own private, and the error it meets, say a
//!   container's `EPERM`, is what a refused worker must report), reading back every bit of the
//!   capability sets (the `caps` crate reads only the capabilities it names, and
//!   `/proc/self/status` needs a free descriptor, which `sandbox.max_open_files` may not leave);
//! * what is raw memory by nature: the SIGSYS reporter (a signal handler reading the kernel's
//!   `siginfo`), the seccomp program handed to the kernel by pointer, overwriting the inherited
//!   environment, the global allocator, a `pre_exec` closure, and CPython's C API.
//!
//! Each `unsafe` block says which invariant makes it sound. The rest are thin safe wrappers over
//! `nix` (process, signal and socket calls) used by the link, the zygote and the worker handles.
//! The sandbox stages reach the kernel through `sandbox::syscalls::Sys`, whose real
//! implementation calls `nix`, `caps`, rust-landlock and this module.
//!
//! Nothing here decides anything: what to apply is computed elsewhere, as plain values.

use std::ffi::CString;
use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::resource::Resource;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::unistd::{ForkResult, Pid};

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

    /// A token for the sandbox's fake kernel in unit tests, which forks nothing and touches no
    /// environment with it.
    #[cfg(test)]
    pub(crate) fn assumed_for_tests() -> SingleThreaded {
        SingleThreaded(())
    }
}

/// Fork the calling process (which the token proves is single-threaded, so no other thread
/// can hold a lock the child would need).
pub fn fork(_proof: &SingleThreaded) -> io::Result<Forked> {
    // SAFETY: single-threaded (the token), so the child inherits no lock held by another thread.
    Ok(match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => Forked::Child,
        ForkResult::Parent { child } => Forked::Parent {
            pid: child.as_raw(),
        },
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

// --- descriptors --------------------------------------------------------------------------------

/// Move `fd` to exactly `target` (dup2, then close the original if it differs). The descriptor
/// stays open at `target` for the rest of the process's life.
pub fn move_fd(fd: OwnedFd, target: RawFd) -> io::Result<()> {
    if fd.as_raw_fd() == target {
        // Keep it open past OwnedFd's drop (close-on-exec is irrelevant: we never exec).
        let _ = fd.into_raw_fd();
        return Ok(());
    }
    // SAFETY: `target` is replaced atomically by the kernel. The sandbox's first stage is the
    // only caller: it moves the link and the report pipe to their fixed numbers and closes every
    // descriptor above them next, so no other owner of the old `target` uses it afterwards; the
    // new descriptor is never closed (into_raw_fd), as the fixed layout needs.
    let moved = unsafe { nix::unistd::dup2_raw(&fd, target) }?;
    let _ = moved.into_raw_fd();
    drop(fd);
    Ok(())
}

/// Close every fd from `first` upwards (`nix` has no `close_range`).
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

/// Borrow `fd` for the rest of the process's life. Only for a descriptor that stays open until
/// the process exits: the supervisor link that the sandbox's first stage put at a fixed number
/// (`sandbox::worker_link` passes it in; this module knows no fd layout).
pub fn borrow_for_life(fd: RawFd) -> BorrowedFd<'static> {
    assert!(fd >= 0, "a descriptor number is never negative");
    // SAFETY: the callers pass only a descriptor that nothing in the process closes (the worker
    // link: stage 1 moved it there and the worker never closes it), so it stays open for as long
    // as any borrow can live.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Take ownership of an fd number inherited at exec time (the zygote's control socket).
pub fn inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: the fd is open (checked above) and was handed to this process to own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

// --- capabilities -------------------------------------------------------------------------------

/// This thread's capability sets as 64-bit masks, every bit the kernel has (not only those the
/// `caps` crate names): `(inheritable, permitted, effective, bounding)`. Opens no descriptor.
pub fn capability_masks() -> io::Result<(u64, u64, u64, u64)> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: version 3 of capget(2) writes two `Data` entries (low and high 32 bits); `header`
    // and `data` are valid, correctly laid out and outlive the call.
    check_long(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    let mask = |low: u32, high: u32| u64::from(low) | (u64::from(high) << 32);
    let mut bounding = 0u64;
    for cap in 0..64u32 {
        // SAFETY: PR_CAPBSET_READ takes a capability number and touches no memory.
        let ret = unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap), 0, 0, 0) };
        match ret {
            1 => bounding |= 1 << cap,
            0 => {}
            // EINVAL: past the kernel's last capability; nothing above it can be set.
            _ if io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) && cap > 0 => {
                break;
            }
            _ => return Err(io::Error::last_os_error()),
        }
    }
    Ok((
        mask(data[0].inheritable, data[1].inheritable),
        mask(data[0].permitted, data[1].permitted),
        mask(data[0].effective, data[1].effective),
        bounding,
    ))
}

// --- Landlock -----------------------------------------------------------------------------------

/// The Landlock ABI version the running kernel offers, or the error (ENOSYS, EOPNOTSUPP, or the
/// EPERM of a container's seccomp filter). rust-landlock keeps this query private: it handles
/// the ABI itself. pyward asks too, to report the ABI (`pyward check`) and to name the error
/// when a worker cannot have Landlock.
pub fn landlock_abi() -> io::Result<u32> {
    const SYS_LANDLOCK_CREATE_RULESET: libc::c_long = 444; // the same on every architecture
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
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
    let action = SigAction::new(
        SigHandler::SigAction(report_sigsys),
        SaFlags::SA_SIGINFO,
        SigSet::empty(),
    );
    // SAFETY: the handler calls only async-signal-safe functions (write, _exit) and reads only
    // the siginfo the kernel hands it and an atomic.
    unsafe { nix::sys::signal::sigaction(Signal::SIGSYS, &action) }?;
    Ok(())
}

// --- processes --------------------------------------------------------------------------------

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

/// waitpid(2), retried on EINTR: `Ok(None)` when `flags` has WNOHANG and nothing has ended.
/// Not `nix`'s: it turns a death by a real-time signal into an error after reaping the child.
fn waitpid(pid: libc::pid_t, flags: libc::c_int) -> io::Result<Option<(libc::pid_t, ExitStatus)>> {
    let mut status = 0;
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
        let ended = if libc::WIFEXITED(status) {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        } else {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        };
        return Ok(Some((ret, ended)));
    }
}

/// Wait for `pid`; `block: false` returns `Ok(None)` if it is still running.
pub fn wait_pid(pid: libc::pid_t, block: bool) -> io::Result<Option<ExitStatus>> {
    let flags = if block { 0 } else { libc::WNOHANG };
    Ok(waitpid(pid, flags)?.map(|(_, status)| status))
}

/// Reap any one child that has ended, without blocking: `(pid, status)`.
pub fn reap_any() -> io::Result<Option<(libc::pid_t, ExitStatus)>> {
    match waitpid(-1, libc::WNOHANG) {
        Err(err) if err.raw_os_error() == Some(libc::ECHILD) => Ok(None),
        other => other,
    }
}

/// Send `signal` (a number, as `kill(2)` takes it) to `pid`.
pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    let signal = Signal::try_from(signal)?;
    nix::sys::signal::kill(Pid::from_raw(pid), signal)?;
    Ok(())
}

/// Ask the kernel to SIGKILL this process when its parent dies (no worker outlives the zygote).
pub fn die_with_parent() -> io::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
    Ok(())
}

pub fn getpid() -> libc::pid_t {
    nix::unistd::getpid().as_raw()
}

pub fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// This process's (soft, hard) limit on `resource`.
pub fn get_rlimit(resource: Resource) -> io::Result<(u64, u64)> {
    Ok(nix::sys::resource::getrlimit(resource)?)
}

/// Exit now, without running destructors or atexit handlers (for forked children).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions (`nix` has no wrapper for it).
    unsafe { libc::_exit(code) }
}

/// Block SIGCHLD and return a signalfd that reports it (the zygote's wake-up on child exit).
pub fn sigchld_fd() -> io::Result<OwnedFd> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    Ok(fd.into())
}

/// Set the process's name as `ps` and `/proc/PID/comm` show it.
pub fn set_process_name(name: &str) {
    if let Ok(c) = CString::new(name) {
        let _ = nix::sys::prctl::set_name(&c);
    }
}

// --- sockets ----------------------------------------------------------------------------------

/// A connected pair of SOCK_SEQPACKET Unix sockets (close-on-exec).
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::sys::socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// A pipe (close-on-exec): (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
}

/// Send one datagram, optionally carrying one fd (SCM_RIGHTS).
pub fn send_packet(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let iov = [IoSlice::new(data)];
    let fds = fd.map(|fd| [fd.as_raw_fd()]);
    let rights: Vec<ControlMessage<'_>> =
        fds.iter().map(|f| ControlMessage::ScmRights(f)).collect();
    loop {
        match nix::sys::socket::sendmsg::<()>(
            sock.as_raw_fd(),
            &iov,
            &rights,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => return Ok(()),
        }
    }
}

/// Receive one datagram into `buf`, with an fd if one was attached. `Ok((0, None))` at EOF.
/// A datagram larger than `buf` is an error (it was truncated).
pub fn recv_packet(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut control = nix::cmsg_space!([RawFd; 1]);
    let (n, raw_fds, truncated) = loop {
        match nix::sys::socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(msg) => {
                let mut raw_fds = Vec::new();
                for cmsg in msg.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(fds) = cmsg {
                        raw_fds.extend(fds);
                    }
                }
                break (msg.bytes, raw_fds, msg.flags.contains(MsgFlags::MSG_TRUNC));
            }
        }
    };
    // SAFETY: the kernel installed these descriptors in this process's table for this message
    // (SCM_RIGHTS) and nothing else refers to them: each gets exactly one owner.
    let mut received: Vec<OwnedFd> = raw_fds
        .into_iter()
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    if truncated {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "datagram truncated",
        ));
    }
    // One fd is the protocol; any extra one is closed here rather than leaked.
    Ok((n, received.pop()))
}

/// Wait until `fd` is readable or `timeout_ms` passes (-1: forever). Returns readiness.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let timeout = PollTimeout::try_from(timeout_ms)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut pollfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
        .collect();
    loop {
        match nix::poll::poll(&mut pollfds, timeout) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {
                let ready = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
                return Ok(pollfds
                    .iter()
                    .map(|p| p.revents().is_some_and(|r| r.intersects(ready)))
                    .collect());
            }
        }
    }
}

/// Read whatever is available (non-blocking semantics are the caller's business).
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(nix::unistd::read(fd, buf)?)
}

/// Drain a signalfd (the zygote only needs to know that something happened).
pub fn drain(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 128 * 8];
    while read(fd, &mut buf).is_ok_and(|n| n > 0) {}
}

/// access(path, W_OK) for the real uid.
pub fn access_writable(path: &std::ffi::CStr) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// CPU time (user + system) a process has used so far, from /proc/PID/stat.
pub fn cpu_seconds_used(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
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
