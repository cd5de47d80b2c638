//! The seccomp allowlist, as reviewable data (one reason per rule), and its compiler to classic
//! BPF for x86_64 and aarch64.
//!
//! Anything not listed falls to the default action, `TRAP`: the worker's SIGSYS handler reports
//! the syscall number to the zygote and exits (the filter forbids replacing that handler, and
//! the kernel forces SIGSYS through even when it is blocked). Syscalls on a foreign architecture,
//! and x32 numbers on x86_64, are killed outright.
//!
//! Compute, then apply: [`rules`] and [`compile`] are pure; `super::apply` installs the result.

#![forbid(unsafe_code)]

use crate::sys::SockFilter;

/// What the filter does with a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Fail with this errno: "soft" denials the module sees as an exception (file writes, sockets).
    Errno(i32),
    /// The default: stop the worker and report the syscall.
    Trap,
}

/// A condition on the low 32 bits of one argument: `(arg & mask) == value`. Every argument
/// checked is an `int` (flags, a signal, a pid), whose upper half the kernel ignores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCheck {
    pub arg: u8,
    pub mask: u64,
    pub value: u64,
}

/// One line of the policy: for `syscall`, if every check in `when` holds, `then`; else `otherwise`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub syscall: &'static str,
    pub when: Vec<ArgCheck>,
    pub then: Action,
    pub otherwise: Action,
    pub reason: &'static str,
}

const EPERM: i32 = libc::EPERM;
const ENOSYS: i32 = libc::ENOSYS;
const ENOTTY: i32 = libc::ENOTTY;
const PROT_EXEC: u64 = libc::PROT_EXEC as u64;

fn allow(syscall: &'static str, reason: &'static str) -> Rule {
    Rule {
        syscall,
        when: Vec::new(),
        then: Action::Allow,
        otherwise: Action::Allow,
        reason,
    }
}

fn deny(syscall: &'static str, errno: i32, reason: &'static str) -> Rule {
    Rule {
        syscall,
        when: Vec::new(),
        then: Action::Errno(errno),
        otherwise: Action::Errno(errno),
        reason,
    }
}

fn allow_if(
    syscall: &'static str,
    when: Vec<ArgCheck>,
    otherwise: Action,
    reason: &'static str,
) -> Rule {
    Rule {
        syscall,
        when,
        then: Action::Allow,
        otherwise,
        reason,
    }
}

fn low32(arg: u8, mask: u64, value: u64) -> ArgCheck {
    ArgCheck { arg, mask, value }
}

/// Options that change the rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuleOptions {
    /// `dangerously_allow_network`: sockets other than AF_VSOCK are allowed (Landlock still
    /// denies TCP bind/connect unless it is off).
    pub network: bool,
    /// The worker's own pid: `tgkill`/`tkill` may target it (so `abort()` can raise SIGABRT),
    /// and nothing else. `None`: no signals at all.
    pub self_pid: Option<u32>,
}

/// The whole policy. Order does not matter: each syscall appears at most once (a test checks).
pub fn rules(options: RuleOptions) -> Vec<Rule> {
    // Writable or creating opens: any access mode but O_RDONLY, or O_CREAT/O_TRUNC/O_APPEND, or
    // O_TMPFILE. O_TMPFILE is __O_TMPFILE | O_DIRECTORY: only its own bit is tested, so that
    // read-only directory opens (listing a package directory on a lazy import) stay allowed.
    let tmpfile_bit = libc::O_TMPFILE & !libc::O_DIRECTORY;
    let write_flags =
        (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND | tmpfile_bit) as u64;
    let mut rules = vec![
        // Memory management: the interpreter allocates constantly. Never executable memory.
        allow("brk", "heap growth by the allocator"),
        allow_if(
            "mmap",
            vec![low32(2, PROT_EXEC, 0)],
            Action::Trap,
            "allocator mappings; PROT_EXEC is refused (no JIT, no dlopen: W^X)",
        ),
        allow_if(
            "mprotect",
            vec![low32(2, PROT_EXEC, 0)],
            Action::Trap,
            "guard pages; making memory executable is refused (W^X)",
        ),
        allow("munmap", "allocator releases memory"),
        allow(
            "mremap",
            "allocator grows mappings (keeps their protection)",
        ),
        allow("madvise", "allocator returns memory to the kernel"),
        // I/O on descriptors the worker already holds: the supervisor link, /dev/null stdio.
        allow("read", "read requests from the supervisor link"),
        allow(
            "write",
            "write replies to the supervisor link; SIGSYS report",
        ),
        allow("recvmsg", "receive on the supervisor link"),
        allow("sendmsg", "send on the supervisor link"),
        allow("close", "close descriptors the worker owns"),
        allow("fstat", "the standard library inspects its own descriptors"),
        allow(
            "newfstatat",
            "stat of already-open descriptors (AT_EMPTY_PATH); Landlock denies paths",
        ),
        allow("statx", "as newfstatat"),
        allow("lseek", "seek on already-open descriptors"),
        allow(
            "getdents64",
            "list directories Landlock lets it read: a lazy import scans a stdlib package directory",
        ),
        // Opening files: read-only and never creating. Landlock decides which paths (none by default).
        allow_if(
            "openat",
            vec![low32(2, write_flags, libc::O_RDONLY as u64)],
            Action::Errno(EPERM),
            "read-only opens only (Landlock limits them to the policy's read paths); writes fail with EPERM",
        ),
        // openat2 takes its flags in a struct seccomp cannot read: make libc fall back to openat.
        deny(
            "openat2",
            ENOSYS,
            "flags hidden in a struct would bypass the openat filter",
        ),
        // clone3 likewise hides its flags; no process or thread creation is needed.
        deny(
            "clone3",
            ENOSYS,
            "flags hidden in a struct; the worker creates no processes",
        ),
        deny("clone", EPERM, "the worker creates no processes or threads"),
        // Time, randomness, signals for the interpreter itself.
        allow(
            "clock_gettime",
            "time.time() and timeouts (also served by the vDSO)",
        ),
        allow("clock_getres", "time.get_clock_info()"),
        allow("clock_nanosleep", "time.sleep()"),
        allow("nanosleep", "time.sleep()"),
        allow("gettimeofday", "time (usually the vDSO)"),
        allow(
            "getrandom",
            "random reseeding after fork, secrets, os.urandom, hash seeds",
        ),
        // CPython's open() asks isatty() (TCGETS) of every file it opens, lazy imports
        // included: the answer is always "not a terminal", and no ioctl reaches a device.
        deny(
            "ioctl",
            ENOTTY,
            "isatty() on opened files learns 'not a terminal'; no ioctl reaches any device",
        ),
        Rule {
            syscall: "rt_sigaction",
            when: vec![low32(0, 0xffff_ffff, libc::SIGSYS as u64)],
            then: Action::Trap,
            otherwise: Action::Allow,
            reason: "the runtime manages its signal handlers; replacing the SIGSYS reporter is refused",
        },
        allow(
            "rt_sigprocmask",
            "the runtime masks signals around critical sections",
        ),
        allow("rt_sigreturn", "return from a signal handler"),
        allow("getpid", "identity queries have no effect"),
        allow("gettid", "identity queries have no effect"),
        allow("exit_group", "end the worker"),
        // Soft denials: file-system writes fail with EPERM so the module sees PermissionError.
        deny("unlinkat", EPERM, "no file deletion"),
        deny("renameat", EPERM, "no renames"),
        deny("renameat2", EPERM, "no renames"),
        deny("mkdirat", EPERM, "no directory creation"),
        deny("fchmodat", EPERM, "no permission changes"),
        deny("fchmod", EPERM, "no permission changes"),
        deny("fchownat", EPERM, "no ownership changes"),
        deny("fchown", EPERM, "no ownership changes"),
        deny("linkat", EPERM, "no links"),
        deny("symlinkat", EPERM, "no links"),
        deny("truncate", EPERM, "no truncation"),
        deny("ftruncate", EPERM, "no truncation"),
        deny("utimensat", EPERM, "no timestamp changes"),
        deny("mknodat", EPERM, "no device nodes or fifos"),
        deny("fallocate", EPERM, "no file growth"),
        deny("pwrite64", EPERM, "no positioned writes to files"),
    ];
    // x86_64 keeps the old path-based calls; aarch64 never had them (skipped there).
    for (syscall, reason) in [
        ("unlink", "no file deletion"),
        ("rmdir", "no directory removal"),
        ("rename", "no renames"),
        ("mkdir", "no directory creation"),
        ("chmod", "no permission changes"),
        ("chown", "no ownership changes"),
        ("lchown", "no ownership changes"),
        ("link", "no links"),
        ("symlink", "no links"),
        ("creat", "no file creation"),
        ("mknod", "no device nodes or fifos"),
    ] {
        rules.push(deny(syscall, EPERM, reason));
    }
    rules.push(Rule {
        syscall: "open",
        when: vec![low32(1, write_flags, libc::O_RDONLY as u64)],
        then: Action::Allow,
        otherwise: Action::Errno(EPERM),
        reason: "legacy open (x86_64): read-only only, as openat",
    });
    if let Some(pid) = options.self_pid {
        let to_self = vec![low32(0, 0xffff_ffff, u64::from(pid))];
        rules.push(allow_if(
            "tgkill",
            to_self.clone(),
            Action::Trap,
            "abort() raises SIGABRT on itself; signals to anyone else are refused",
        ));
        rules.push(allow_if(
            "tkill",
            to_self,
            Action::Trap,
            "as tgkill (a single-threaded worker's tid is its pid)",
        ));
    }
    if options.network {
        rules.push(Rule {
            syscall: "socket",
            when: vec![low32(0, 0xffff_ffff, libc::AF_VSOCK as u64)],
            then: Action::Errno(EPERM),
            otherwise: Action::Allow,
            reason: "network allowed by policy (dangerously_allow_network); never AF_VSOCK",
        });
        for call in [
            "connect",
            "bind",
            "listen",
            "accept4",
            "getsockopt",
            "setsockopt",
            "shutdown",
        ] {
            rules.push(allow(
                call,
                "network allowed by policy (dangerously_allow_network)",
            ));
        }
    } else {
        rules.push(deny("socket", EPERM, "no network: sockets fail with EPERM"));
        rules.push(deny("socketpair", EPERM, "no new sockets"));
    }
    rules
}

/// An architecture's syscall numbering, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub fn native() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    /// `AUDIT_ARCH_*` as seccomp reports it in `seccomp_data.arch`.
    pub fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 => 0xC000_003E,
            Arch::Aarch64 => 0xC000_00B7,
        }
    }

    /// The syscall's number on this architecture, or `None` if it does not exist there.
    pub fn number(self, name: &str) -> Option<u32> {
        SYSCALLS
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|&(_, x86, arm)| match self {
                Arch::X86_64 => x86,
                Arch::Aarch64 => arm,
            })
    }

    pub fn name_of(self, number: u32) -> Option<&'static str> {
        SYSCALLS
            .iter()
            .find(|&&(_, x86, arm)| {
                let on_this_arch = match self {
                    Arch::X86_64 => x86,
                    Arch::Aarch64 => arm,
                };
                on_this_arch == Some(number)
            })
            .map(|(n, _, _)| *n)
    }
}

/// `(name, x86_64, aarch64)`: every syscall the rules name, plus the ones reports name often.
pub const SYSCALLS: &[(&str, Option<u32>, Option<u32>)] = &[
    ("read", Some(0), Some(63)),
    ("write", Some(1), Some(64)),
    ("open", Some(2), None),
    ("close", Some(3), Some(57)),
    ("fstat", Some(5), Some(80)),
    ("poll", Some(7), None),
    ("lseek", Some(8), Some(62)),
    ("mmap", Some(9), Some(222)),
    ("mprotect", Some(10), Some(226)),
    ("munmap", Some(11), Some(215)),
    ("brk", Some(12), Some(214)),
    ("rt_sigaction", Some(13), Some(134)),
    ("rt_sigprocmask", Some(14), Some(135)),
    ("rt_sigreturn", Some(15), Some(139)),
    ("ioctl", Some(16), Some(29)),
    ("pread64", Some(17), Some(67)),
    ("pwrite64", Some(18), Some(68)),
    ("sched_yield", Some(24), Some(124)),
    ("mremap", Some(25), Some(216)),
    ("madvise", Some(28), Some(233)),
    ("shmget", Some(29), Some(194)),
    ("shmat", Some(30), Some(196)),
    ("nanosleep", Some(35), Some(101)),
    ("getpid", Some(39), Some(172)),
    ("socket", Some(41), Some(198)),
    ("connect", Some(42), Some(203)),
    ("sendto", Some(44), Some(206)),
    ("recvfrom", Some(45), Some(207)),
    ("sendmsg", Some(46), Some(211)),
    ("recvmsg", Some(47), Some(212)),
    ("shutdown", Some(48), Some(210)),
    ("bind", Some(49), Some(200)),
    ("listen", Some(50), Some(201)),
    ("socketpair", Some(53), Some(199)),
    ("setsockopt", Some(54), Some(208)),
    ("getsockopt", Some(55), Some(209)),
    ("clone", Some(56), Some(220)),
    ("fork", Some(57), None),
    ("vfork", Some(58), None),
    ("execve", Some(59), Some(221)),
    ("exit", Some(60), Some(93)),
    ("kill", Some(62), Some(129)),
    ("fcntl", Some(72), Some(25)),
    ("truncate", Some(76), Some(45)),
    ("ftruncate", Some(77), Some(46)),
    ("rename", Some(82), None),
    ("mkdir", Some(83), None),
    ("rmdir", Some(84), None),
    ("creat", Some(85), None),
    ("link", Some(86), None),
    ("unlink", Some(87), None),
    ("symlink", Some(88), None),
    ("chmod", Some(90), None),
    ("fchmod", Some(91), Some(52)),
    ("chown", Some(92), None),
    ("fchown", Some(93), Some(55)),
    ("lchown", Some(94), None),
    ("gettimeofday", Some(96), Some(169)),
    ("setuid", Some(105), Some(146)),
    ("setgid", Some(106), Some(144)),
    ("getppid", Some(110), Some(173)),
    ("setresuid", Some(117), Some(147)),
    ("setresgid", Some(119), Some(149)),
    ("uname", Some(63), Some(160)),
    ("sched_setaffinity", Some(203), Some(122)),
    ("shmdt", Some(67), Some(197)),
    ("shmctl", Some(31), Some(195)),
    ("pipe2", Some(293), Some(59)),
    ("dup", Some(32), Some(23)),
    ("dup3", Some(292), Some(24)),
    ("getdents64", Some(217), Some(61)),
    ("epoll_create1", Some(291), Some(20)),
    ("readlinkat", Some(267), Some(78)),
    ("faccessat", Some(269), Some(48)),
    ("faccessat2", Some(439), Some(439)),
    ("setsid", Some(112), Some(157)),
    ("umount2", Some(166), Some(39)),
    ("pidfd_open", Some(434), Some(434)),
    ("pidfd_send_signal", Some(424), Some(424)),
    ("pidfd_getfd", Some(438), Some(438)),
    ("ptrace", Some(101), Some(117)),
    ("mknod", Some(133), None),
    ("personality", Some(135), Some(92)),
    ("sigaltstack", Some(131), Some(132)),
    ("prctl", Some(157), Some(167)),
    ("mount", Some(165), Some(40)),
    ("gettid", Some(186), Some(178)),
    ("futex", Some(202), Some(98)),
    ("sched_getaffinity", Some(204), Some(123)),
    ("clock_gettime", Some(228), Some(113)),
    ("clock_getres", Some(229), Some(114)),
    ("clock_nanosleep", Some(230), Some(115)),
    ("exit_group", Some(231), Some(94)),
    ("tgkill", Some(234), Some(131)),
    ("tkill", Some(200), Some(130)),
    ("add_key", Some(248), Some(217)),
    ("request_key", Some(249), Some(218)),
    ("keyctl", Some(250), Some(219)),
    ("openat", Some(257), Some(56)),
    ("mkdirat", Some(258), Some(34)),
    ("mknodat", Some(259), Some(33)),
    ("fchownat", Some(260), Some(54)),
    ("newfstatat", Some(262), Some(79)),
    ("unlinkat", Some(263), Some(35)),
    ("renameat", Some(264), Some(38)),
    ("linkat", Some(265), Some(37)),
    ("symlinkat", Some(266), Some(36)),
    ("fchmodat", Some(268), Some(53)),
    ("ppoll", Some(271), Some(73)),
    ("unshare", Some(272), Some(97)),
    ("utimensat", Some(280), Some(88)),
    ("fallocate", Some(285), Some(47)),
    ("accept4", Some(288), Some(242)),
    ("perf_event_open", Some(298), Some(241)),
    ("prlimit64", Some(302), Some(261)),
    ("setns", Some(308), Some(268)),
    ("process_vm_readv", Some(310), Some(270)),
    ("process_vm_writev", Some(311), Some(271)),
    ("renameat2", Some(316), Some(276)),
    ("seccomp", Some(317), Some(277)),
    ("getrandom", Some(318), Some(278)),
    ("memfd_create", Some(319), Some(279)),
    ("bpf", Some(321), Some(280)),
    ("execveat", Some(322), Some(281)),
    ("userfaultfd", Some(323), Some(282)),
    ("pkey_mprotect", Some(329), Some(288)),
    ("statx", Some(332), Some(291)),
    ("io_uring_setup", Some(425), Some(425)),
    ("io_uring_enter", Some(426), Some(426)),
    ("io_uring_register", Some(427), Some(427)),
    ("clone3", Some(435), Some(435)),
    ("close_range", Some(436), Some(436)),
    ("openat2", Some(437), Some(437)),
];

// --- classic BPF ------------------------------------------------------------------------------

const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const BPF_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// `struct seccomp_data` offsets.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg_low(i: u8) -> u32 {
    16 + 8 * i as u32
}

/// x32 syscalls are x86_64 numbers with this bit set; none is allowed.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

pub fn action_value(action: Action) -> u32 {
    match action {
        Action::Allow => RET_ALLOW,
        Action::Errno(e) => RET_ERRNO | (e as u32 & 0xffff),
        Action::Trap => RET_TRAP,
    }
}

/// Errors in the rule data, found at compile time (never at run time in a worker).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("syscall `{0}` is not in the syscall table")]
    UnknownSyscall(&'static str),
    #[error("syscall `{0}` appears in more than one rule")]
    Duplicate(&'static str),
    #[error("the block for `{0}` is too long for a BPF jump")]
    BlockTooLong(&'static str),
}

/// Compile the rules for `arch`. Rules naming a syscall the architecture lacks are skipped.
pub fn compile(rules: &[Rule], arch: Arch) -> Result<Vec<SockFilter>, CompileError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut program = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JEQ_K, arch.audit_arch(), 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    if arch == Arch::X86_64 {
        program.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1));
        program.push(stmt(BPF_RET_K, RET_KILL_PROCESS));
    }
    for rule in rules {
        if SYSCALLS.iter().all(|(n, _, _)| *n != rule.syscall) {
            return Err(CompileError::UnknownSyscall(rule.syscall));
        }
        if !seen.insert(rule.syscall) {
            return Err(CompileError::Duplicate(rule.syscall));
        }
        let Some(nr) = arch.number(rule.syscall) else {
            continue;
        };
        let block = rule_block(rule);
        let skip =
            u8::try_from(block.len()).map_err(|_| CompileError::BlockTooLong(rule.syscall))?;
        program.push(jump(BPF_JEQ_K, nr, 0, skip));
        program.extend(block);
    }
    program.push(stmt(BPF_RET_K, action_value(Action::Trap)));
    Ok(program)
}

/// The body run when the syscall number matched: checks, then `ret then` / `ret otherwise`.
/// Each check reloads its argument and jumps to the `otherwise` return on mismatch. The syscall
/// number is no longer needed in the accumulator once inside a block: every path returns.
fn rule_block(rule: &Rule) -> Vec<SockFilter> {
    let mut checks: Vec<Vec<SockFilter>> = Vec::new();
    for check in &rule.when {
        let mut part = vec![stmt(BPF_LD_W_ABS, off_arg_low(check.arg))];
        let mask = check.mask as u32;
        if mask != u32::MAX {
            part.push(stmt(BPF_AND_K, mask));
        }
        // Placeholder jump; the false branch is patched to reach `ret otherwise`.
        part.push(jump(BPF_JEQ_K, check.value as u32, 0, 0));
        checks.push(part);
    }
    let mut block: Vec<SockFilter> = checks.into_iter().flatten().collect();
    let then_index = block.len();
    block.push(stmt(BPF_RET_K, action_value(rule.then)));
    block.push(stmt(BPF_RET_K, action_value(rule.otherwise)));
    let otherwise_index = then_index + 1;
    for (i, ins) in block.iter_mut().enumerate().take(then_index) {
        if ins.code == BPF_JEQ_K {
            ins.jf = (otherwise_index - i - 1) as u8;
        }
    }
    block
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A classic-BPF interpreter for the instructions [`compile`] emits, to check decisions
    /// without installing anything.
    pub fn run(program: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let load = |off: u32| -> u32 {
            match off {
                OFF_NR => nr,
                OFF_ARCH => arch,
                o if o >= 16 => {
                    let i = ((o - 16) / 8) as usize;
                    if (o - 16) % 8 == 0 {
                        args[i] as u32
                    } else {
                        (args[i] >> 32) as u32
                    }
                }
                o => panic!("unexpected load offset {o}"),
            }
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let ins = program[pc];
            match ins.code {
                BPF_LD_W_ABS => acc = load(ins.k),
                BPF_AND_K => acc &= ins.k,
                BPF_JEQ_K => {
                    pc += usize::from(if acc == ins.k { ins.jt } else { ins.jf });
                }
                BPF_JGE_K => {
                    pc += usize::from(if acc >= ins.k { ins.jt } else { ins.jf });
                }
                BPF_RET_K => return ins.k,
                code => panic!("unexpected opcode {code:#x}"),
            }
            pc += 1;
        }
    }

    fn decide(arch: Arch, name: &str, args: [u64; 6], network: bool) -> u32 {
        let options = RuleOptions {
            network,
            self_pid: None,
        };
        let program = compile(&rules(options), arch).unwrap();
        run(
            &program,
            arch.audit_arch(),
            arch.number(name).unwrap(),
            args,
        )
    }

    #[test]
    fn both_architectures_compile_and_every_rule_has_a_reason() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for network in [false, true] {
                let options = RuleOptions {
                    network,
                    self_pid: Some(1),
                };
                let program = compile(&rules(options), arch).unwrap();
                assert!(
                    program.len() < 1000,
                    "{arch:?}: {} instructions",
                    program.len()
                );
            }
        }
        for rule in rules(RuleOptions::default()) {
            assert!(!rule.reason.is_empty(), "{} has no reason", rule.syscall);
        }
    }

    #[test]
    fn native_numbers_match_libc() {
        let arch = Arch::native();
        let checks: &[(&str, libc::c_long)] = &[
            ("read", libc::SYS_read),
            ("write", libc::SYS_write),
            ("mmap", libc::SYS_mmap),
            ("mprotect", libc::SYS_mprotect),
            ("openat", libc::SYS_openat),
            ("openat2", libc::SYS_openat2),
            ("clone", libc::SYS_clone),
            ("clone3", libc::SYS_clone3),
            ("execve", libc::SYS_execve),
            ("execveat", libc::SYS_execveat),
            ("ptrace", libc::SYS_ptrace),
            ("process_vm_readv", libc::SYS_process_vm_readv),
            ("pkey_mprotect", libc::SYS_pkey_mprotect),
            ("personality", libc::SYS_personality),
            ("shmat", libc::SYS_shmat),
            ("memfd_create", libc::SYS_memfd_create),
            ("io_uring_setup", libc::SYS_io_uring_setup),
            ("bpf", libc::SYS_bpf),
            ("userfaultfd", libc::SYS_userfaultfd),
            ("keyctl", libc::SYS_keyctl),
            ("unshare", libc::SYS_unshare),
            ("setns", libc::SYS_setns),
            ("kill", libc::SYS_kill),
            ("socket", libc::SYS_socket),
            ("getrandom", libc::SYS_getrandom),
            ("prlimit64", libc::SYS_prlimit64),
            ("exit_group", libc::SYS_exit_group),
            ("tgkill", libc::SYS_tgkill),
            ("tkill", libc::SYS_tkill),
            ("rt_sigaction", libc::SYS_rt_sigaction),
            ("futex", libc::SYS_futex),
            ("statx", libc::SYS_statx),
            ("newfstatat", libc::SYS_newfstatat),
            ("unlinkat", libc::SYS_unlinkat),
            ("renameat2", libc::SYS_renameat2),
            ("mount", libc::SYS_mount),
            ("perf_event_open", libc::SYS_perf_event_open),
            ("sendmsg", libc::SYS_sendmsg),
            ("recvmsg", libc::SYS_recvmsg),
            ("ppoll", libc::SYS_ppoll),
            ("pwrite64", libc::SYS_pwrite64),
            ("fallocate", libc::SYS_fallocate),
        ];
        for &(name, nr) in checks {
            assert_eq!(arch.number(name), Some(nr as u32), "{name}");
        }
        // Every table entry that exists natively matches libc's view of its name.
        for &(name, _, _) in SYSCALLS {
            if let Some(nr) = arch.number(name) {
                assert_eq!(arch.name_of(nr), Some(name));
            }
        }
    }

    #[test]
    fn decisions() {
        let none = [0u64; 6];
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let d = |name: &str, args: [u64; 6]| decide(arch, name, args, false);
            assert_eq!(d("read", none), RET_ALLOW);
            // W^X
            let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
            let rx = (libc::PROT_READ | libc::PROT_EXEC) as u64;
            assert_eq!(d("mmap", [0, 4096, rw, 0, 0, 0]), RET_ALLOW);
            assert_eq!(d("mmap", [0, 4096, rx, 0, 0, 0]), RET_TRAP);
            assert_eq!(d("mmap", [0, 4096, rx | (1 << 40), 0, 0, 0]), RET_TRAP);
            assert_eq!(d("mprotect", [0, 4096, rx, 0, 0, 0]), RET_TRAP);
            assert_eq!(d("pkey_mprotect", [0, 4096, rw, 0, 0, 0]), RET_TRAP);
            // opens
            let ro = libc::O_RDONLY as u64 | libc::O_CLOEXEC as u64;
            assert_eq!(d("openat", [0, 0, ro, 0, 0, 0]), RET_ALLOW);
            // A read-only directory open (a lazy import listing a package) is allowed.
            let dir = ro | libc::O_DIRECTORY as u64;
            assert_eq!(d("openat", [0, 0, dir, 0, 0, 0]), RET_ALLOW);
            for flags in [
                libc::O_WRONLY,
                libc::O_RDWR,
                libc::O_CREAT,
                libc::O_TRUNC,
                libc::O_APPEND,
                libc::O_TMPFILE | libc::O_WRONLY,
                libc::O_TMPFILE,
            ] {
                assert_eq!(
                    d("openat", [0, 0, flags as u64, 0, 0, 0]),
                    RET_ERRNO | libc::EPERM as u32,
                    "{flags:#x}"
                );
            }
            assert_eq!(d("openat2", none), RET_ERRNO | libc::ENOSYS as u32);
            assert_eq!(d("clone3", none), RET_ERRNO | libc::ENOSYS as u32);
            // side doors and escapes
            for name in [
                "execve",
                "execveat",
                "memfd_create",
                "ptrace",
                "process_vm_readv",
                "process_vm_writev",
                "shmat",
                "io_uring_setup",
                "io_uring_enter",
                "bpf",
                "userfaultfd",
                "keyctl",
                "add_key",
                "request_key",
                "perf_event_open",
                "unshare",
                "setns",
                "mount",
                "kill",
                "seccomp",
                "prctl",
            ] {
                assert_eq!(d(name, none), RET_TRAP, "{name} on {arch:?}");
            }
            // No ioctl reaches a device: TIOCSTI (terminal injection) and TCGETS (isatty) alike
            // fail with ENOTTY.
            for request in [libc::TIOCSTI, libc::TCGETS] {
                assert_eq!(
                    d("ioctl", [0, request, 0, 0, 0, 0]),
                    RET_ERRNO | libc::ENOTTY as u32,
                    "ioctl {request:#x} on {arch:?}"
                );
            }
            // Never seen in use by a confined worker (scripts/seccomp-usage), so not allowed.
            for name in ["personality", "prlimit64", "futex", "fcntl", "sigaltstack"] {
                assert_eq!(d(name, [0xffff_ffff, 0, 0, 0, 0, 0]), RET_TRAP, "{name}");
            }
            assert_eq!(
                d("rt_sigaction", [libc::SIGINT as u64, 0, 0, 0, 0, 0]),
                RET_ALLOW
            );
            assert_eq!(
                d("rt_sigaction", [libc::SIGSYS as u64, 0, 0, 0, 0, 0]),
                RET_TRAP
            );
            // sockets
            assert_eq!(
                d("socket", [libc::AF_INET as u64, 1, 0, 0, 0, 0]),
                RET_ERRNO | 1
            );
            let net = |args| decide(arch, "socket", args, true);
            assert_eq!(net([libc::AF_INET as u64, 1, 0, 0, 0, 0]), RET_ALLOW);
            assert_eq!(net([libc::AF_VSOCK as u64, 1, 0, 0, 0, 0]), RET_ERRNO | 1);
            // signals only to itself
            let own = RuleOptions {
                network: false,
                self_pid: Some(4242),
            };
            let program = compile(&rules(own), arch).unwrap();
            let tgkill = arch.number("tgkill").unwrap();
            assert_eq!(
                run(
                    &program,
                    arch.audit_arch(),
                    tgkill,
                    [4242, 4242, 6, 0, 0, 0]
                ),
                RET_ALLOW
            );
            assert_eq!(
                run(&program, arch.audit_arch(), tgkill, [1, 1, 9, 0, 0, 0]),
                RET_TRAP
            );
        }
    }

    #[test]
    fn foreign_architecture_and_x32_are_killed() {
        let program = compile(&rules(RuleOptions::default()), Arch::X86_64).unwrap();
        const AUDIT_ARCH_I386: u32 = 0x4000_0003;
        assert_eq!(run(&program, AUDIT_ARCH_I386, 3, [0; 6]), RET_KILL_PROCESS);
        assert_eq!(
            run(&program, Arch::X86_64.audit_arch(), X32_SYSCALL_BIT, [0; 6]),
            RET_KILL_PROCESS
        );
        assert_eq!(
            run(
                &program,
                Arch::X86_64.audit_arch(),
                X32_SYSCALL_BIT | 1,
                [0; 6]
            ),
            RET_KILL_PROCESS
        );
        let arm = compile(&rules(RuleOptions::default()), Arch::Aarch64).unwrap();
        assert_eq!(
            run(&arm, Arch::X86_64.audit_arch(), 0, [0; 6]),
            RET_KILL_PROCESS
        );
    }

    #[test]
    fn unlisted_syscalls_trap() {
        let program = compile(&rules(RuleOptions::default()), Arch::X86_64).unwrap();
        assert_eq!(
            run(&program, Arch::X86_64.audit_arch(), 999, [0; 6]),
            RET_TRAP
        );
    }
}
