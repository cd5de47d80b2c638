//! The interpreter's audit hook (PEP 578): what the seeds' "runtime firewall" refused, refused
//! again from inside CPython, with the event named. Installed from Rust after the bootstrap and
//! before any module code; Python code cannot remove it.
//!
//! Two kinds of rules. Some events have no business in a worker whoever raises them (writing a
//! file, starting a process, a socket, ctypes). Others are ordinary inside the standard library
//! but an escape in module code (frames and code objects, `sys._getframe`, walking the garbage
//! collector, tracing): those are refused only when the Python code that raised them runs with
//! the restricted builtins, which is how module code is told apart.
//!
//! A refusal is recorded, so a module that catches the exception is still reported: a tripwire
//! that was touched stays touched. [`judge`] is pure and unit-tested; [`decide`] extracts the
//! facts and records.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde::{Deserialize, Serialize};

use super::{PyError, SandboxViolation};

/// What the interpreter layer refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The audit event (`os.system`, `open`, `sys._getframe`) or guard (`import`, `builtins.getattr`).
    pub event: String,
    pub detail: String,
}

impl Violation {
    pub fn message(&self) -> String {
        format!(
            "the interpreter refused `{}`: {} (layer: interpreter)",
            self.event, self.detail
        )
    }

    pub fn as_error(&self) -> PyError {
        PyError {
            kind: "SandboxViolation".into(),
            message: self.message(),
            traceback: String::new(),
        }
    }
}

thread_local! {
    static VIOLATION: RefCell<Option<Violation>> = const { RefCell::new(None) };
}

/// Address of the restricted builtins dict: code running with it is module code.
static RESTRICTED_BUILTINS: AtomicUsize = AtomicUsize::new(0);

pub(super) fn set_restricted_builtins(address: usize) {
    RESTRICTED_BUILTINS.store(address, Ordering::Relaxed);
}

pub(super) fn restricted_builtins() -> usize {
    RESTRICTED_BUILTINS.load(Ordering::Relaxed)
}

/// Record a refusal (the first one of a call is kept) and build the exception to raise.
pub(super) fn record(event: &str, detail: String) -> PyErr {
    let violation = Violation {
        event: event.to_string(),
        detail,
    };
    let message = violation.message();
    VIOLATION.with(|v| {
        v.borrow_mut().get_or_insert(violation);
    });
    SandboxViolation::new_err(message)
}

/// The refusal recorded since the last call, if any (and forget it).
pub(super) fn take_violation() -> Option<Violation> {
    VIOLATION.with(|v| v.borrow_mut().take())
}

/// What [`judge`] needs to know about an event's arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFacts {
    /// `open`: the mode string, if one was given.
    pub mode: Option<String>,
    /// `open`: the flags, if given.
    pub flags: Option<i64>,
    /// `object.__getattr__`/`__setattr__`/`__delattr__`: the attribute name.
    pub attribute: Option<String>,
}

/// Who raised an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Code running with the restricted builtins.
    Module,
    /// The standard library, the bootstrap, pyward itself.
    Trusted,
}

/// Events refused whoever raises them: the outside world.
const ALWAYS: &[(&str, &str)] = &[
    ("os.system", "starting a shell"),
    ("os.exec", "replacing the process"),
    ("os.posix_spawn", "starting a process"),
    ("os.spawn", "starting a process"),
    ("os.fork", "forking"),
    ("os.forkpty", "forking"),
    ("os.kill", "sending a signal"),
    ("os.killpg", "sending a signal"),
    ("signal.pthread_kill", "sending a signal"),
    ("subprocess.Popen", "starting a process"),
    ("pty.spawn", "starting a process"),
    ("os.remove", "deleting a file"),
    ("os.rmdir", "deleting a directory"),
    ("shutil.rmtree", "deleting a tree"),
    ("os.rename", "renaming a file"),
    ("shutil.move", "moving a file"),
    ("shutil.copyfile", "copying a file"),
    ("shutil.copymode", "changing a file's mode"),
    ("shutil.copystat", "changing a file's metadata"),
    ("shutil.chown", "changing a file's owner"),
    ("shutil.make_archive", "writing an archive"),
    ("shutil.unpack_archive", "unpacking an archive"),
    ("os.mkdir", "creating a directory"),
    ("os.chmod", "changing a file's mode"),
    ("os.chown", "changing a file's owner"),
    ("os.chflags", "changing a file's flags"),
    ("os.link", "creating a link"),
    ("os.symlink", "creating a link"),
    ("os.truncate", "truncating a file"),
    ("os.utime", "changing a file's times"),
    ("os.mkfifo", "creating a fifo"),
    ("os.mknod", "creating a device node"),
    ("os.setxattr", "changing extended attributes"),
    ("os.removexattr", "changing extended attributes"),
    ("os.chdir", "changing directory"),
    ("os.putenv", "changing the environment"),
    ("os.unsetenv", "changing the environment"),
    ("tempfile.mkstemp", "creating a file"),
    ("tempfile.mkdtemp", "creating a directory"),
    ("mmap.__new__", "mapping memory"),
    ("resource.setrlimit", "changing resource limits"),
    ("resource.prlimit", "changing resource limits"),
    ("sys.addaudithook", "adding an audit hook"),
    ("builtins.input", "reading the terminal"),
    ("builtins.breakpoint", "starting a debugger"),
    ("pickle.find_class", "unpickling"),
    ("urllib.Request", "a network request"),
    ("http.client.connect", "a network connection"),
    ("ftplib.connect", "a network connection"),
    ("smtplib.connect", "a network connection"),
    ("poplib.connect", "a network connection"),
    ("imaplib.open", "a network connection"),
    ("nntplib.connect", "a network connection"),
    ("telnetlib.Telnet.open", "a network connection"),
    ("webbrowser.open", "starting a browser"),
    ("syslog.openlog", "writing to the system log"),
    ("syslog.syslog", "writing to the system log"),
];

/// Families refused whoever raises them.
const ALWAYS_PREFIXES: &[(&str, &str)] = &[
    ("socket.", "a socket"),
    ("ctypes.", "ctypes (native code and raw memory)"),
    ("sqlite3.", "a database file"),
    ("fcntl.", "file control"),
    ("winreg.", "the registry"),
];

/// Events refused when module code raises them: the object model's back doors.
const FROM_MODULE: &[(&str, &str)] = &[
    ("sys._getframe", "reading the interpreter's frames"),
    ("sys._current_frames", "reading the interpreter's frames"),
    (
        "sys._current_exceptions",
        "reading other frames' exceptions",
    ),
    ("sys.settrace", "tracing execution"),
    ("sys.setprofile", "profiling execution"),
    ("sys._setprofileallthreads", "profiling execution"),
    ("sys._settraceallthreads", "tracing execution"),
    (
        "sys.set_asyncgen_hooks_firstiter",
        "hooking async generators",
    ),
    (
        "sys.set_asyncgen_hooks_finalizer",
        "hooking async generators",
    ),
    ("gc.get_objects", "walking every object in memory"),
    ("gc.get_referrers", "walking the object graph"),
    ("gc.get_referents", "walking the object graph"),
    ("function.__new__", "building a function from a code object"),
    ("code.__new__", "building a code object"),
    ("marshal.loads", "loading bytecode"),
    ("marshal.load", "loading bytecode"),
    ("exec", "executing dynamic code"),
    ("compile", "compiling dynamic code"),
    ("os.listdir", "listing a directory"),
    ("os.scandir", "listing a directory"),
    ("glob.glob", "listing a directory"),
];

/// Open flags that write or create (`O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND`).
const WRITE_FLAGS: i64 =
    (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) as i64;

/// Should this event be refused? `Some(why)` if so. Pure.
pub fn judge(event: &str, facts: &EventFacts, caller: Caller) -> Option<String> {
    if let Some((_, why)) = ALWAYS.iter().find(|(name, _)| *name == event) {
        return Some((*why).to_string());
    }
    if let Some((_, why)) = ALWAYS_PREFIXES.iter().find(|(p, _)| event.starts_with(p)) {
        return Some((*why).to_string());
    }
    if event == "open" {
        let writes_mode = facts
            .mode
            .as_deref()
            .is_some_and(|m| m.contains(['w', 'a', 'x', '+']));
        let writes_flags = facts.flags.is_some_and(|f| f & WRITE_FLAGS != 0);
        if writes_mode || writes_flags {
            return Some(format!(
                "opening a file for writing (mode {:?}, flags {:#o})",
                facts.mode.as_deref().unwrap_or(""),
                facts.flags.unwrap_or(0)
            ));
        }
        return None;
    }
    if caller == Caller::Trusted {
        return None;
    }
    match event {
        // Raised only for members CPython marks as restricted: frames, code, tracebacks.
        "object.__getattr__" => Some(format!(
            "reading `{}`, an interpreter internal",
            facts.attribute.as_deref().unwrap_or("?")
        )),
        "object.__setattr__" | "object.__delattr__" => {
            let name = facts.attribute.as_deref().unwrap_or("");
            (name.starts_with("__") && name.ends_with("__"))
                .then(|| format!("changing `{name}` on a type or function"))
        }
        // `import` events from module code that reach here passed the guarded __import__;
        // they are the normal case and allowed.
        "import" => None,
        _ => FROM_MODULE
            .iter()
            .find(|(name, _)| *name == event)
            .map(|(_, why)| (*why).to_string()),
    }
}

/// The hook itself (installed by `sys::python_add_audit_hook`).
pub fn decide(py: Python<'_>, event: &str, args: &Bound<'_, PyTuple>) -> PyResult<()> {
    let caller = if crate::sys::python_caller_builtins(py) == restricted_builtins() {
        Caller::Module
    } else {
        Caller::Trusted
    };
    let mut facts = EventFacts::default();
    match event {
        "open" => {
            facts.mode = args.get_item(1).ok().and_then(|m| m.extract().ok());
            facts.flags = args.get_item(2).ok().and_then(|f| f.extract().ok());
        }
        "object.__getattr__" | "object.__setattr__" | "object.__delattr__" => {
            facts.attribute = args.get_item(1).ok().and_then(|a| a.extract().ok());
        }
        _ => {}
    }
    match judge(event, &facts, caller) {
        None => Ok(()),
        Some(why) => Err(record(event, why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(mode: Option<&str>, flags: Option<i64>) -> EventFacts {
        EventFacts {
            mode: mode.map(str::to_string),
            flags,
            attribute: None,
        }
    }

    #[test]
    fn the_outside_world_is_refused_to_everyone() {
        for event in [
            "os.system",
            "subprocess.Popen",
            "os.exec",
            "socket.__new__",
            "socket.connect",
            "ctypes.dlopen",
            "os.remove",
            "os.rename",
            "shutil.rmtree",
            "sys.addaudithook",
        ] {
            for caller in [Caller::Module, Caller::Trusted] {
                assert!(
                    judge(event, &EventFacts::default(), caller).is_some(),
                    "{event} from {caller:?}"
                );
            }
        }
    }

    #[test]
    fn files_open_for_reading_only() {
        assert_eq!(
            judge("open", &open(Some("r"), Some(0)), Caller::Module),
            None
        );
        assert_eq!(judge("open", &open(Some("rb"), None), Caller::Module), None);
        assert_eq!(judge("open", &open(None, Some(0)), Caller::Trusted), None);
        for facts in [
            open(Some("w"), None),
            open(Some("a"), None),
            open(Some("x"), None),
            open(Some("r+"), None),
            open(None, Some(libc::O_WRONLY as i64)),
            open(None, Some((libc::O_RDONLY | libc::O_CREAT) as i64)),
            open(Some("r"), Some(libc::O_RDWR as i64)),
        ] {
            assert!(
                judge("open", &facts, Caller::Trusted).is_some(),
                "{facts:?}"
            );
        }
    }

    #[test]
    fn frames_are_refused_to_module_code_only() {
        let attr = |name: &str| EventFacts {
            attribute: Some(name.into()),
            ..EventFacts::default()
        };
        for (event, facts) in [
            ("sys._getframe", EventFacts::default()),
            ("object.__getattr__", attr("tb_frame")),
            ("object.__getattr__", attr("gi_frame")),
            ("object.__setattr__", attr("__code__")),
            ("gc.get_objects", EventFacts::default()),
            ("exec", EventFacts::default()),
            ("code.__new__", EventFacts::default()),
        ] {
            assert!(judge(event, &facts, Caller::Module).is_some(), "{event}");
            // The standard library does these itself (namedtuple, typing, traceback).
            assert_eq!(judge(event, &facts, Caller::Trusted), None, "{event}");
        }
        // Ordinary class attributes may be set by module code.
        assert_eq!(
            judge("object.__setattr__", &attr("counter"), Caller::Module),
            None
        );
        assert_eq!(
            judge("import", &EventFacts::default(), Caller::Module),
            None
        );
    }

    #[test]
    fn unknown_events_pass() {
        assert_eq!(
            judge(
                "cpython.run_command",
                &EventFacts::default(),
                Caller::Module
            ),
            None
        );
    }
}
