//! Native probe (test-only, never part of the `pyward` binary). It simulates a compromised
//! interpreter: for each bypass class it forks a child, applies the worker sandbox (all layers,
//! or one layer alone), then makes the raw system call a Python-level escape cannot reach.
//!
//! Usage: probe [--layers all|none|fds|rlimits|privileges|landlock|seccomp] [--config FILE]
//! Prints one JSON object per line: {"attempt", "outcome": "refused"|"killed"|"succeeded",
//! "detail"}. The parent judges by evidence as well as by return values: the sentinel process
//! must be alive, the listener must see no connection, files must be unchanged.
//!
//! Raw syscalls need `unsafe`; each block here does exactly one documented call on buffers it
//! owns. This file is a test tool, so its unsafe does not live in `worker/src/sys.rs`.

use std::ffi::CString;
use std::io::Read;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixListener;
use std::process::Command;

use pyward_policy::Policy;
use pyward_worker::exit::WorkerExit;
use pyward_worker::sandbox::{self, LinuxSys, SandboxReport};
use pyward_worker::sys;

/// This run's scratch directory (per process, so concurrent probes cannot see each other).
static DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn dir() -> &'static str {
    DIR.get().expect("set at start")
}
static PARENT_SECRET: [u8; 8] = *b"p-secret";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layers {
    All,
    None,
    Fds,
    Rlimits,
    Privileges,
    Landlock,
    Seccomp,
}

struct Context {
    /// Writable mappings of this process at fork time (start, end): where a compromised
    /// interpreter would look for secrets in its own memory.
    writable: Vec<(usize, usize)>,
    port: u16,
    /// Abstract Unix socket name the parent listens on (unique per run).
    abstract_name: String,
    sentinel: libc::pid_t,
    parent: libc::pid_t,
}

type Attempt = fn(&Context) -> Result<String, i32>;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in probe paths")
}

fn ret(r: libc::c_long) -> Result<String, i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(format!("returned {r}"))
    }
}

fn open_with(path: &str, flags: libc::c_int) -> Result<String, i32> {
    let p = cstr(path);
    // SAFETY: valid NUL-terminated path; the fd (if any) is leaked on purpose, the process ends.
    ret(unsafe { libc::open(p.as_ptr(), flags, 0o644) } as libc::c_long)
}

fn open_write(_: &Context) -> Result<String, i32> {
    open_with(
        &format!("{}/written", dir()),
        libc::O_WRONLY | libc::O_CREAT,
    )
}

fn openat2_write(_: &Context) -> Result<String, i32> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: (libc::O_WRONLY | libc::O_CREAT) as u64,
        mode: 0o644,
        resolve: 0,
    };
    let p = cstr(&format!("{}/written2", dir()));
    // SAFETY: valid path and open_how struct of the size passed.
    ret(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            p.as_ptr(),
            &how,
            std::mem::size_of::<OpenHow>(),
        )
    })
}

fn read_file(path: &str) -> Result<String, i32> {
    let p = cstr(path);
    // SAFETY: valid path.
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY) };
    if fd < 0 {
        return Err(errno());
    }
    let mut buf = [0u8; 64];
    // SAFETY: reading into a stack buffer of its own length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(errno())
    } else {
        Ok(format!("read {n} bytes"))
    }
}

/// What the caller's secret starts with (the test sets PYWARD_PROBE_SECRET to it plus a random
/// part). Compared in place, from read-only data, so the search itself leaves no copy.
static SECRET_PREFIX: &[u8] = b"pyward-probe-secret-";

fn writable_mappings() -> Vec<(usize, usize)> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            if !perms.starts_with("rw") {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect()
}

fn caller_secret_in_memory(ctx: &Context) -> Result<String, i32> {
    for &(start, end) in &ctx.writable {
        // SAFETY: [start, end) was a readable, writable mapping of this process when it forked,
        // and the child has unmapped nothing since; the slice is only read.
        let region = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) };
        if let Some(at) = region
            .windows(SECRET_PREFIX.len())
            .position(|w| w == SECRET_PREFIX)
        {
            return Ok(format!("found the caller's secret at {:#x}", start + at));
        }
    }
    Err(libc::ENOENT)
}

fn read_shadow(_: &Context) -> Result<String, i32> {
    read_file("/etc/shadow")
}

fn read_secret(_: &Context) -> Result<String, i32> {
    read_file(&format!("{}/secret", dir()))
}

fn proc_self_mem(_: &Context) -> Result<String, i32> {
    open_with("/proc/self/mem", libc::O_RDWR)
}

fn unlink_victim(_: &Context) -> Result<String, i32> {
    let p = cstr(&format!("{}/victim", dir()));
    // SAFETY: valid path.
    ret(unsafe { libc::unlink(p.as_ptr()) } as libc::c_long)
}

fn tcp_connect(ctx: &Context) -> Result<String, i32> {
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(errno());
    }
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: ctx.port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: a valid sockaddr_in of the size passed.
    ret(unsafe {
        libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of_val(&addr) as u32,
        )
    } as libc::c_long)
}

fn abstract_connect(ctx: &Context) -> Result<String, i32> {
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: zeroed sockaddr_un is valid; we fill family and an abstract name.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as u16;
    let name = format!("\0{}", ctx.abstract_name).into_bytes();
    for (i, b) in name.iter().enumerate() {
        addr.sun_path[i] = *b as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + name.len()) as u32;
    // SAFETY: valid sockaddr_un with the length of the used part.
    ret(
        unsafe { libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) }
            as libc::c_long,
    )
}

fn ptrace_sentinel(ctx: &Context) -> Result<String, i32> {
    // The sentinel, not the probe: a successful attach stops its target.
    // SAFETY: integer arguments only.
    ret(unsafe { libc::ptrace(libc::PTRACE_ATTACH, ctx.sentinel, 0, 0) })
}

fn process_vm_readv_parent(ctx: &Context) -> Result<String, i32> {
    let mut buf = [0u8; 8];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: 8,
    };
    // The parent runs this same binary, forked: the static sits at the same address there.
    let remote = libc::iovec {
        iov_base: PARENT_SECRET.as_ptr() as *mut libc::c_void,
        iov_len: 8,
    };
    // SAFETY: iovecs describe a local stack buffer and a remote address; no local memory is
    // touched beyond `buf`.
    let n = unsafe { libc::process_vm_readv(ctx.parent, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(errno())
    } else {
        Ok(format!("read {n} bytes of the parent's memory"))
    }
}

fn map(prot: libc::c_int) -> *mut libc::c_void {
    // SAFETY: an anonymous private mapping; no existing memory is affected.
    unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    }
}

fn mmap_exec(_: &Context) -> Result<String, i32> {
    let p = map(libc::PROT_READ | libc::PROT_EXEC);
    if p == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok("executable mapping created".into())
    }
}

fn mprotect_exec(_: &Context) -> Result<String, i32> {
    let p = map(libc::PROT_READ | libc::PROT_WRITE);
    if p == libc::MAP_FAILED {
        return Err(errno());
    }
    // SAFETY: changing protection of the page we just mapped.
    ret(unsafe { libc::mprotect(p, 4096, libc::PROT_READ | libc::PROT_EXEC) } as libc::c_long)
}

fn pkey_mprotect_exec(_: &Context) -> Result<String, i32> {
    let p = map(libc::PROT_READ | libc::PROT_WRITE);
    if p == libc::MAP_FAILED {
        return Err(errno());
    }
    // SAFETY: changing protection of the page we just mapped; pkey -1 means the default key.
    ret(unsafe {
        libc::syscall(
            libc::SYS_pkey_mprotect,
            p,
            4096,
            libc::PROT_READ | libc::PROT_EXEC,
            -1,
        )
    })
}

fn personality_exec(_: &Context) -> Result<String, i32> {
    const READ_IMPLIES_EXEC: libc::c_ulong = 0x0040_0000;
    // SAFETY: integer argument only.
    ret(unsafe { libc::personality(READ_IMPLIES_EXEC) } as libc::c_long)
}

fn shmat_exec(_: &Context) -> Result<String, i32> {
    // SAFETY: integer arguments only.
    let id = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return Err(errno());
    }
    // SAFETY: attaching the segment we created at an address the kernel chooses.
    let p = unsafe { libc::shmat(id, std::ptr::null(), libc::SHM_EXEC) };
    if p as isize == -1 {
        Err(errno())
    } else {
        Ok("executable shared memory attached".into())
    }
}

fn memfd_execveat(_: &Context) -> Result<String, i32> {
    let name = cstr("x");
    // SAFETY: valid name, no flags.
    let fd = unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), 0) };
    if fd < 0 {
        return Err(errno());
    }
    let empty = cstr("");
    let argv = [empty.as_ptr(), std::ptr::null()];
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, NULL-terminated argv/envp.
    let r = unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            empty.as_ptr(),
            argv.as_ptr(),
            argv[1..].as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    if r < 0 && errno() == libc::ENOEXEC {
        return Ok("memfd created and execveat reached the kernel's loader".into());
    }
    ret(r)
}

fn execve_true(_: &Context) -> Result<String, i32> {
    let path = cstr("/bin/true");
    let argv = [path.as_ptr(), std::ptr::null()];
    // SAFETY: valid path and NULL-terminated argv/envp.
    ret(unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), argv[1..].as_ptr()) } as libc::c_long)
}

fn io_uring(_: &Context) -> Result<String, i32> {
    let mut params = [0u8; 120];
    // SAFETY: a zeroed io_uring_params-sized buffer.
    ret(unsafe { libc::syscall(libc::SYS_io_uring_setup, 8, params.as_mut_ptr()) })
}

fn bpf(_: &Context) -> Result<String, i32> {
    let mut attr = [0u32; 32];
    attr[0] = 2; // BPF_MAP_TYPE_ARRAY
    attr[1] = 4; // key size
    attr[2] = 4; // value size
    attr[3] = 1; // max entries
    // SAFETY: a zeroed-then-filled bpf_attr-sized buffer for BPF_MAP_CREATE (0).
    ret(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0,
            attr.as_mut_ptr(),
            std::mem::size_of_val(&attr),
        )
    })
}

fn userfaultfd(_: &Context) -> Result<String, i32> {
    // SAFETY: integer argument only.
    ret(unsafe { libc::syscall(libc::SYS_userfaultfd, 0) })
}

fn keyctl(_: &Context) -> Result<String, i32> {
    // SAFETY: KEYCTL_GET_KEYRING_ID (0) of the session keyring (-3), integer arguments only.
    ret(unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) })
}

fn unshare_user(_: &Context) -> Result<String, i32> {
    // SAFETY: integer argument only.
    ret(unsafe { libc::unshare(libc::CLONE_NEWUSER) } as libc::c_long)
}

fn clone_newnet(_: &Context) -> Result<String, i32> {
    // SAFETY: raw clone with a namespace flag and no new stack: the child (if any) exits at once.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWNET | libc::SIGCHLD) as libc::c_ulong,
            0,
            0,
            0,
            0,
        )
    };
    if r == 0 {
        sys::exit_now(0);
    }
    ret(r)
}

fn fork_child(_: &Context) -> Result<String, i32> {
    // SAFETY: the child exits immediately without touching shared state.
    let r = unsafe { libc::fork() };
    if r == 0 {
        sys::exit_now(0);
    }
    ret(r as libc::c_long)
}

fn kill_sentinel(ctx: &Context) -> Result<String, i32> {
    // SAFETY: integer arguments only.
    ret(unsafe { libc::kill(ctx.sentinel, libc::SIGKILL) } as libc::c_long)
}

fn signal_parent(ctx: &Context) -> Result<String, i32> {
    // SIGCONT: harmless if it gets through, but it must not get through.
    // SAFETY: integer arguments only.
    ret(unsafe { libc::kill(ctx.parent, libc::SIGCONT) } as libc::c_long)
}

fn tgkill_sentinel(ctx: &Context) -> Result<String, i32> {
    // SAFETY: integer arguments only.
    ret(unsafe { libc::syscall(libc::SYS_tgkill, ctx.sentinel, ctx.sentinel, libc::SIGKILL) })
}

fn setuid_root(_: &Context) -> Result<String, i32> {
    // SAFETY: integer argument only.
    let r = unsafe { libc::setuid(0) };
    if r == 0 && sys::uid() == 0 && sys::euid() == 0 {
        // Still root (nothing was dropped): that is not an escalation, but it is not refused.
        return Ok("uid 0".into());
    }
    ret(r as libc::c_long)
}

fn mount_tmpfs(_: &Context) -> Result<String, i32> {
    let (src, target, fs) = (cstr("none"), cstr(&format!("{}/mnt", dir())), cstr("tmpfs"));
    // SAFETY: valid NUL-terminated strings, no data.
    ret(unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fs.as_ptr(),
            0,
            std::ptr::null(),
        )
    } as libc::c_long)
}

fn allocate_1gib(_: &Context) -> Result<String, i32> {
    // SAFETY: an anonymous private mapping; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            1 << 30,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok("1 GiB mapped".into())
    }
}

fn x32_syscall(_: &Context) -> Result<String, i32> {
    // SAFETY: getpid with the x32 bit set: no arguments, no memory.
    ret(unsafe { libc::syscall(libc::SYS_getpid | 0x4000_0000) })
}

const ATTEMPTS: &[(&str, Attempt)] = &[
    ("open_for_write", open_write),
    ("openat2_for_write", openat2_write),
    ("read_etc_shadow", read_shadow),
    ("read_secret_outside_read_paths", read_secret),
    ("open_proc_self_mem", proc_self_mem),
    ("unlink_file", unlink_victim),
    ("tcp_connect", tcp_connect),
    ("abstract_unix_connect", abstract_connect),
    ("ptrace_sentinel_process", ptrace_sentinel),
    ("process_vm_readv_parent", process_vm_readv_parent),
    ("mmap_prot_exec", mmap_exec),
    ("mprotect_prot_exec", mprotect_exec),
    ("pkey_mprotect_prot_exec", pkey_mprotect_exec),
    ("personality_read_implies_exec", personality_exec),
    ("shmat_shm_exec", shmat_exec),
    ("memfd_create_execveat", memfd_execveat),
    ("execve", execve_true),
    ("io_uring_setup", io_uring),
    ("bpf", bpf),
    ("userfaultfd", userfaultfd),
    ("keyctl", keyctl),
    ("unshare_user_namespace", unshare_user),
    ("clone_new_network_namespace", clone_newnet),
    ("fork", fork_child),
    ("kill_sentinel_process", kill_sentinel),
    ("tgkill_sentinel_process", tgkill_sentinel),
    ("signal_parent", signal_parent),
    ("setuid_root", setuid_root),
    ("mount", mount_tmpfs),
    ("allocate_1gib", allocate_1gib),
    ("caller_secret_in_memory", caller_secret_in_memory),
    ("x32_syscall", x32_syscall),
];

/// Apply the requested layers; stage 1 (fds) always runs so the result goes out on fd 3.
fn confine(
    layers: Layers,
    policy: &Policy,
    link: OwnedFd,
    report: OwnedFd,
) -> Result<SandboxReport, String> {
    let mut limits = policy.sandbox.clone();
    limits.dangerously_allow_degraded = true;
    let plan = sandbox::plan(&limits, sys::euid(), sys::getpid() as u32);
    if layers == Layers::All {
        return sandbox::apply(&plan, link, report).map_err(|e| e.to_string());
    }
    let mut r = SandboxReport::default();
    let single = sys::SingleThreaded::check().map_err(|e| e.to_string())?;
    sandbox::stage_fds(&LinuxSys, &single, link, report, &mut r).map_err(|e| e.to_string())?;
    let needs_nnp = matches!(layers, Layers::Landlock | Layers::Seccomp);
    let apply = |r: &mut SandboxReport| -> Result<(), sandbox::SandboxError> {
        match layers {
            Layers::Rlimits => sandbox::stage_limits(&LinuxSys, &plan, r),
            Layers::Privileges => sandbox::stage_privileges(&LinuxSys, &plan, r),
            Layers::Landlock => sandbox::stage_landlock(&LinuxSys, &plan, r),
            Layers::Seccomp => sandbox::stage_seccomp(&LinuxSys, &plan, r),
            Layers::All | Layers::None | Layers::Fds => Ok(()),
        }
    };
    if needs_nnp {
        sandbox::stage_no_new_privs(&LinuxSys, &plan, &mut r).map_err(|e| e.to_string())?;
    }
    apply(&mut r).map_err(|e| e.to_string())?;
    Ok(r)
}

fn main() {
    let mut layers = Layers::All;
    let mut config = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--layers" => {
                layers = match args.next().as_deref() {
                    Some("all") => Layers::All,
                    Some("none") => Layers::None,
                    Some("fds") => Layers::Fds,
                    Some("rlimits") => Layers::Rlimits,
                    Some("privileges") => Layers::Privileges,
                    Some("landlock") => Layers::Landlock,
                    Some("seccomp") => Layers::Seccomp,
                    other => panic!("unknown --layers {other:?}"),
                }
            }
            "--config" => config = args.next(),
            other => panic!("unknown argument {other}"),
        }
    }
    let policy = match config {
        Some(path) => Policy::load(std::path::Path::new(&path)).expect("policy loads"),
        None => Policy::default(),
    };
    DIR.set(format!("/tmp/pyward-probe-{}", sys::getpid()))
        .expect("set once");
    std::fs::create_dir_all(format!("{}/mnt", dir())).unwrap();
    std::fs::set_permissions(dir(), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    std::fs::write(format!("{}/secret", dir()), "probe-secret").unwrap();
    std::fs::set_permissions(
        format!("{}/secret", dir()),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let abstract_name = format!("pyward-probe-{}", sys::getpid());
    let abstract_addr =
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
    let abstract_listener = UnixListener::bind_addr(&abstract_addr).unwrap();
    abstract_listener.set_nonblocking(true).unwrap();
    let mut sentinel = Command::new("sleep").arg("120").spawn().unwrap();
    std::hint::black_box(&PARENT_SECRET);

    for (name, attempt) in ATTEMPTS {
        let ctx = Context {
            writable: writable_mappings(),
            port,
            abstract_name: abstract_name.clone(),
            sentinel: sentinel.id() as libc::pid_t,
            parent: sys::getpid(),
        };
        std::fs::write(format!("{}/victim", dir()), "original").unwrap();
        std::fs::set_permissions(
            format!("{}/victim", dir()),
            std::os::unix::fs::PermissionsExt::from_mode(0o666),
        )
        .unwrap();
        let _ = std::fs::remove_file(format!("{}/written", dir()));
        let _ = std::fs::remove_file(format!("{}/written2", dir()));
        let (parent_link, child_link) = sys::seqpacket_pair().unwrap();
        let (report_read, report_write) = sys::pipe().unwrap();
        let single = sys::SingleThreaded::check().expect("the probe is single-threaded");
        match sys::fork(&single).unwrap() {
            sys::Forked::Child => {
                drop(parent_link);
                drop(report_read);
                let _ = sys::die_with_parent();
                if layers != Layers::None {
                    if let Err(e) = confine(layers, &policy, child_link, report_write) {
                        let msg = format!("SANDBOX {e}");
                        let _ = sys::send_packet(sandbox::worker_link(), msg.as_bytes(), None);
                        sys::exit_now(3);
                    }
                } else {
                    let fd = child_link.as_raw_fd();
                    std::mem::forget(child_link);
                    std::mem::forget(report_write);
                    // SAFETY: moving our own fd to the link's place so results go to fd 3.
                    unsafe { libc::dup2(fd, sandbox::LINK_FD) };
                }
                let result = match attempt(&ctx) {
                    Ok(info) => format!("OK {info}"),
                    Err(e) => format!("ERR {e}"),
                };
                let _ = sys::send_packet(sandbox::worker_link(), result.as_bytes(), None);
                sys::exit_now(0);
            }
            sys::Forked::Parent { pid } => {
                drop(child_link);
                drop(report_write);
                let status = sys::wait_pid(pid, true).unwrap().unwrap();
                let mut buf = vec![0u8; 4096];
                let ready = sys::poll_readable(&[parent_link.as_fd()], 0).unwrap()[0];
                let message = if ready {
                    let (n, _) =
                        sys::recv_packet(parent_link.as_fd(), &mut buf).unwrap_or((0, None));
                    String::from_utf8_lossy(&buf[..n]).into_owned()
                } else {
                    String::new()
                };
                let mut report = Vec::new();
                // SAFETY: taking ownership of our own pipe end to read it as a File.
                let mut file = unsafe { std::fs::File::from_raw_fd(report_read.as_raw_fd()) };
                std::mem::forget(report_read);
                let _ = file.read_to_end(&mut report);
                let (mut outcome, mut detail) = match (status, message.split_once(' ')) {
                    (sys::ExitStatus::Exited(c), _) if c == WorkerExit::Seccomp.code() => {
                        let nr = report
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                        let name = nr.and_then(|n| sandbox::seccomp::Arch::native().name_of(n));
                        (
                            "killed",
                            format!("seccomp stopped syscall {} ({:?})", name.unwrap_or("?"), nr),
                        )
                    }
                    (sys::ExitStatus::Signaled(s), _) => ("killed", format!("signal {s}")),
                    (_, Some(("OK", info))) => ("succeeded", info.to_string()),
                    (_, Some(("ERR", e))) => (
                        "refused",
                        format!(
                            "errno {e} ({})",
                            std::io::Error::from_raw_os_error(e.parse().unwrap_or(0))
                        ),
                    ),
                    (_, Some(("SANDBOX", e))) => ("error", format!("sandbox: {e}")),
                    (status, _) => (
                        "succeeded",
                        format!("the process was replaced or vanished: {status:?}"),
                    ),
                };
                // Evidence overrides what the child said.
                let mut evidence = Vec::new();
                if matches!(sentinel.try_wait(), Ok(Some(_))) {
                    evidence.push("the sentinel process died");
                    sentinel = Command::new("sleep").arg("120").spawn().unwrap();
                }
                if listener.accept().is_ok() || abstract_listener.accept().is_ok() {
                    evidence.push("a listener accepted a connection");
                }
                if std::fs::read_to_string(format!("{}/victim", dir()))
                    .ok()
                    .as_deref()
                    != Some("original")
                {
                    evidence.push("the victim file changed");
                }
                if std::path::Path::new(&format!("{}/written", dir())).exists()
                    || std::path::Path::new(&format!("{}/written2", dir())).exists()
                {
                    evidence.push("a file was written");
                }
                let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
                if mountinfo.contains(&format!("{}/mnt", dir())) {
                    evidence.push("a file system was mounted");
                    let target = cstr(&format!("{}/mnt", dir()));
                    // SAFETY: detaching the mount the attempt made, by a valid path.
                    unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
                }
                if !evidence.is_empty() {
                    outcome = "succeeded";
                    detail = format!("{detail}; evidence: {}", evidence.join(", "));
                }
                println!(
                    "{}",
                    serde_json::json!({ "attempt": name, "outcome": outcome, "detail": detail })
                );
            }
        }
    }
    let _ = sentinel.kill();
    let _ = sentinel.wait();
    let _ = std::fs::remove_dir_all(dir());
}
