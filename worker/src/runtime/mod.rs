//! The embedded interpreter: CPython (the system's libpython, through pyo3), started isolated,
//! plus an in-language layer on top of it: restricted builtins, an import allowlist (a guarded
//! `__import__` and an import gate on `sys.meta_path`), a PEP 578 audit hook installed from
//! Rust, captured output, a coroutine driver, and the `pyward` module as the only door out.
//!
//! The in-language layer is a tripwire, not a wall: CPython has `os`, `socket` and `ctypes`,
//! and a module that gets hold of an allowed stdlib module's globals reaches them. The wall is
//! the OS sandbox around the process; the test suite runs every escape with the scanner and
//! this layer off to prove it holds.

#![forbid(unsafe_code)]

pub mod audit;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use pyward_policy::config::{HostCall, KNOWN_EVENTS, Security};
use serde::{Deserialize, Serialize};

use crate::link::{HostCallError, Json};

const BOOTSTRAP: &str = include_str!("bootstrap.py");
const PYWARD_MODULE: &str = include_str!("pyward.py");
/// The same two, compiled at build time by the interpreter pyo3 links (see build.rs).
const BOOTSTRAP_CODE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bootstrap.marshal"));
const PYWARD_CODE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pyward.marshal"));

/// A code object from build-time marshalled bytes, or compiled from `source` if those do not
/// load (a different interpreter at run time than at build time).
fn code_object<'py>(
    py: Python<'py>,
    marshalled: &[u8],
    source: &str,
    filename: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let loaded = py
        .import("marshal")
        .and_then(|m| m.getattr("loads"))
        .and_then(|loads| loads.call1((pyo3::types::PyBytes::new(py, marshalled),)));
    match loaded {
        Ok(code) => Ok(code),
        Err(_) => py
            .import("builtins")?
            .getattr("compile")?
            .call1((source, filename, "exec", 0, true)),
    }
}

/// Where the interpreter pyo3 links against keeps its standard library (found at build time).
pub const PYTHON_HOME: &str = env!("PYWARD_PYTHON_HOME");
pub const PYTHON_STDLIB: &str = env!("PYWARD_PYTHON_STDLIB");
pub const PYTHON_DYNLOAD: &str = env!("PYWARD_PYTHON_DYNLOAD");
pub const PYTHON_VERSION: &str = env!("PYWARD_PYTHON_VERSION");
/// Time zone data for `zoneinfo` (read-only, like the standard library).
pub const TZDATA_DIR: &str = "/usr/share/zoneinfo";

/// Which modules the interpreter imports before any module code runs (and so before the
/// sandbox: C extensions can only be loaded then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preload {
    /// Every module on the allowlist: the zygote, whose workers fork warm.
    Allowlist,
    /// These modules (allowed names only): a one-shot run, which pays only for what its module
    /// imports (found by `pyward_policy::imports::imports_of` on the scanned source).
    Modules(Vec<String>),
    /// What this source imports, found by the interpreter's own parser (the `ast` module):
    /// for a source the scanner has not bounded (the scan skipped in tests).
    ImportsOf(String),
}

/// Whether the interpreter layer (restricted builtins, import allowlist, audit hook) is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterpreterLayer {
    On,
    /// Test-only (never from a policy): proves the kernel layers hold on their own.
    DangerouslyOffForTests,
}

/// What the interpreter is set up with (from the policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub allowed_imports: Vec<String>,
    pub blocked_builtins: Vec<String>,
    /// Attribute names the guarded `getattr` family refuses (besides every private name).
    pub blocked_attributes: Vec<String>,
    pub max_output_bytes: usize,
    pub preload: Preload,
    /// The operator's vetted packages (`pip install --target`), importable when allowlisted.
    pub packages_dir: Option<PathBuf>,
    pub layer: InterpreterLayer,
}

impl RuntimeConfig {
    pub fn from_policy(policy: &pyward_policy::Policy) -> RuntimeConfig {
        // The policy keeps them in hash sets; sorted, the configuration is stable.
        let sorted = |set: &pyward_policy::scan::NameSet| {
            let mut names: Vec<String> = set.iter().cloned().collect();
            names.sort();
            names
        };
        RuntimeConfig {
            allowed_imports: sorted(&policy.scan.allowed_imports),
            blocked_builtins: sorted(&policy.scan.forbidden_names),
            blocked_attributes: sorted(&policy.scan.forbidden_attributes),
            max_output_bytes: policy.sandbox.max_output_bytes,
            preload: Preload::Allowlist,
            packages_dir: policy.sandbox.packages_dir.clone(),
            layer: InterpreterLayer::On,
        }
    }

    /// `sys.path`, as text for CPython's configuration.
    pub fn import_paths(&self) -> Vec<String> {
        import_path_texts(self.packages_dir.as_deref())
    }
}

fn import_path_texts(packages_dir: Option<&std::path::Path>) -> Vec<String> {
    import_paths(packages_dir)
        .iter()
        .map(|p| p.display().to_string())
        .collect()
}

/// `sys.path`: the standard library, its C extensions, the vetted packages.
fn import_paths(packages_dir: Option<&std::path::Path>) -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from(PYTHON_STDLIB), PathBuf::from(PYTHON_DYNLOAD)];
    paths.extend(packages_dir.map(std::path::Path::to_path_buf));
    paths
}

/// Directories a worker must be able to read for the interpreter to work (lazy imports, time
/// zones): every import path (so that the two cannot drift apart), the time zone database.
/// Read-only, and nothing else unless the policy adds it.
pub fn interpreter_read_paths(packages_dir: Option<&std::path::Path>) -> Vec<PathBuf> {
    let mut paths = import_paths(packages_dir);
    // lib-dynload usually lies inside the standard library, whose rule already covers it.
    if PYTHON_DYNLOAD.starts_with(PYTHON_STDLIB) {
        paths.retain(|p| p.as_os_str() != PYTHON_DYNLOAD);
    }
    if std::path::Path::new(TZDATA_DIR).is_dir() {
        paths.push(PathBuf::from(TZDATA_DIR));
    }
    paths
}

/// Which entries of an import allowlist the embedded interpreter cannot import (name and why),
/// looked up the way a worker would (standard library, then the packages directory). Starts
/// CPython in this process (once per process): for `pyward policy validate`, so that a bad
/// entry is found before `pyward serve` fails to warm its zygote.
pub fn unimportable(
    allowed: &[String],
    packages_dir: Option<&std::path::Path>,
) -> Result<Vec<(String, String)>, String> {
    crate::sys::python_initialize(PYTHON_HOME, &import_path_texts(packages_dir))
        .map_err(|e| format!("CPython did not start: {e}"))?;
    Python::attach(|py| {
        let find_spec = py
            .import("importlib.util")
            .and_then(|m| m.getattr("find_spec"))
            .map_err(|e| e.to_string())?;
        let mut missing = Vec::new();
        for name in allowed.iter().filter(|n| n.as_str() != "pyward") {
            match find_spec.call1((name,)) {
                Ok(spec) if spec.is_none() => missing.push((
                    name.clone(),
                    "no such module for the embedded interpreter".to_string(),
                )),
                Ok(_) => {}
                Err(e) => missing.push((name.clone(), e.value(py).to_string())),
            }
        }
        Ok(missing)
    })
}

/// Answers the module's host calls: a link to the supervisor in a worker, a stand-in in
/// `pyward run` and in tests.
pub trait HostBridge {
    /// The host's answer to host call `call`, or why there is none.
    fn call(&mut self, call: HostCall, args: Json) -> Result<Json, HostCallError>;
}

/// A command a module declared with `@pyward.command`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandInfo {
    pub name: String,
    pub security: Option<Security>,
    pub help: String,
}

/// What loading a module produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loaded {
    pub commands: Vec<CommandInfo>,
    /// What the module printed while it was being loaded.
    pub stdout: String,
    /// Every name, attribute name and short string constant in the code CPython compiled, for
    /// the parser cross-check against the scanner's view.
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// Chat events the module handles (`@pyward.on(event)`).
    #[serde(default)]
    pub events: Vec<String>,
    /// Periodic handlers (`@pyward.every(seconds)`): name and period.
    #[serde(default)]
    pub periodic: Vec<PeriodicInfo>,
}

/// A handler a module declared with `@pyward.every(seconds)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodicInfo {
    pub name: String,
    pub seconds: u64,
}

/// A Python exception, as text the supervisor can pass on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PyError {
    /// The exception's type name (`ValueError`, `SandboxViolation`, `SyntaxError`, ...).
    pub kind: String,
    pub message: String,
    pub traceback: String,
}

impl PyError {
    /// Raised by one of the interpreter's own guards (import allowlist, private attributes,
    /// ungranted host calls, the audit hook) rather than by the module's logic.
    pub fn is_sandbox_violation(&self) -> bool {
        self.kind == "SandboxViolation"
            || (self.kind == "ImportError" && self.message.starts_with("pyward:"))
    }

    pub fn is_memory_error(&self) -> bool {
        self.kind == "MemoryError"
    }
}

/// What to call in a loaded module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Target {
    /// A command declared with `@pyward.command`: called as `handler(event, args)`.
    Command(String),
    /// A module-level function (pipelines): called with the JSON arguments (list: positional,
    /// object: keywords, anything else: one argument).
    Function(String),
    /// Every `@pyward.on(event)` handler of this event type, each called as `handler(event)`;
    /// the result is the list of what they returned.
    Event(String),
    /// A periodic handler (`@pyward.every`), called without arguments.
    Every(String),
}

/// How a call ended, as far as the interpreter knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcome {
    /// What the handler returned, when it returned.
    pub result: Option<Returned>,
    pub error: Option<PyError>,
    pub stdout: String,
    pub output_limit_hit: bool,
    /// The first thing the interpreter layer refused during the call, even if the module
    /// caught the exception: a tripwire that was touched stays touched.
    #[serde(default)]
    pub violation: Option<audit::Violation>,
}

impl CallOutcome {
    /// The handler's result as JSON text, when it returned JSON.
    pub fn result_json(&self) -> Option<&str> {
        self.result.as_ref().and_then(Returned::json)
    }
}

/// What a handler returned, as the bootstrap wrote it with Python's `json.dumps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Returned {
    Json(Json),
    /// Text that is not JSON (`json.dumps` writes `NaN` and `Infinity`): how long it was,
    /// which `budgets.max_result_bytes` judges first, and why it is not JSON. The supervisor
    /// turns it into an error that says so, never into `null`.
    NotJson {
        bytes: usize,
        error: String,
    },
}

impl Returned {
    pub fn from_text(text: String) -> Returned {
        let bytes = text.len();
        match Json::from_text(text) {
            Ok(json) => Returned::Json(json),
            Err(e) => Returned::NotJson {
                bytes,
                error: e.to_string(),
            },
        }
    }

    pub fn json(&self) -> Option<&str> {
        match self {
            Returned::Json(json) => Some(json.get()),
            Returned::NotJson { .. } => None,
        }
    }

    /// The size of the text the handler's result was written as.
    pub fn bytes(&self) -> usize {
        match self {
            Returned::Json(json) => json.get().len(),
            Returned::NotJson { bytes, .. } => *bytes,
        }
    }
}

struct Output {
    text: String,
    limit: usize,
    limit_hit: bool,
}

thread_local! {
    static CONFIG: RefCell<Option<RuntimeConfig>> = const { RefCell::new(None) };
    static OUTPUT: RefCell<Output> = const {
        RefCell::new(Output { text: String::new(), limit: 0, limit_hit: false })
    };
    static GRANTED: RefCell<BTreeSet<HostCall>> = const { RefCell::new(BTreeSet::new()) };
    static HOST: RefCell<Option<Box<dyn HostBridge>>> = const { RefCell::new(None) };
    /// The loaded module's source, for its tracebacks.
    static MODULE_SOURCE: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn config<T>(f: impl FnOnce(&RuntimeConfig) -> T) -> T {
    CONFIG.with(|c| f(c.borrow().as_ref().expect("runtime configured before use")))
}

/// `(name, security, help)` as the bootstrap's `load` returns each command.
type DeclaredCommand = (String, Option<String>, String);
/// What the bootstrap's `load` returns: commands, identifiers, events, periodic handlers.
type Declared = (
    Vec<DeclaredCommand>,
    Vec<String>,
    Vec<String>,
    Vec<(String, u64)>,
);

/// The interpreter, warmed: standard library imported, `pyward` built, audit hook installed.
pub struct Runtime {
    boot: Py<PyModule>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// Start and warm the interpreter. Trusted work: no module code runs here. Once per
    /// process (CPython cannot be started twice).
    pub fn new(config: RuntimeConfig) -> Result<Runtime, PyError> {
        OUTPUT.with(|o| o.borrow_mut().limit = config.max_output_bytes);
        let paths = config.import_paths();
        let layer = config.layer;
        CONFIG.with(|c| *c.borrow_mut() = Some(config));
        crate::sys::python_initialize(PYTHON_HOME, &paths)
            .map_err(|e| error_info("RuntimeError", format!("CPython did not start: {e}")))?;
        Python::attach(|py| -> Result<Runtime, PyError> {
            let boot = || -> PyResult<Bound<'_, PyModule>> {
                install_native_module(py)?;
                let module = PyModule::new(py, "_pyward_boot")?;
                let globals = module.dict();
                globals.set_item("__builtins__", py.import("builtins")?)?;
                let code = code_object(py, BOOTSTRAP_CODE, BOOTSTRAP, "<pyward bootstrap>")?;
                py.import("builtins")?
                    .getattr("exec")?
                    .call1((code, globals))?;
                Ok(module)
            };
            let boot = boot().map_err(|e| py_error(py, &e))?;
            if layer == InterpreterLayer::On {
                let restricted = boot.getattr("restricted").map_err(|e| py_error(py, &e))?;
                audit::set_restricted_builtins(restricted.as_ptr() as usize);
                crate::sys::python_add_audit_hook(py, audit::decide)
                    .map_err(|e| error_info("RuntimeError", format!("the audit hook: {e}")))?;
            }
            Ok(Runtime {
                boot: boot.unbind(),
            })
        })
    }

    /// The sandbox is up (seccomp forbids executable mappings): a C extension not loaded yet
    /// becomes an ImportError instead of a kernel kill.
    pub fn sandbox_applied(&mut self) {
        SANDBOXED.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Where host calls go from now on.
    pub fn set_host(&mut self, host: Box<dyn HostBridge>) {
        HOST.with(|h| *h.borrow_mut() = Some(host));
    }

    /// Fork this process the way CPython forks (its at-fork handlers run: `random` reseeds in
    /// the child). The caller must be single-threaded (the token).
    pub fn fork(&self, single: &crate::sys::SingleThreaded) -> std::io::Result<crate::sys::Forked> {
        Python::attach(|py| crate::sys::fork_python(py, single))
    }

    /// Load a module's source: remove the host functions its tier lacks, compile and run it.
    /// Returns the commands it declared.
    pub fn load(
        &mut self,
        name: &str,
        source: &str,
        granted: &BTreeSet<HostCall>,
    ) -> Result<Loaded, PyError> {
        GRANTED.with(|g| *g.borrow_mut() = granted.clone());
        reset_output();
        audit::take_violation();
        let granted: Vec<&str> = granted.iter().map(|c| c.name()).collect();
        MODULE_SOURCE.with(|m| *m.borrow_mut() = Some(source.to_string()));
        let loaded = Python::attach(|py| {
            let boot = self.boot.bind(py);
            let run = || -> PyResult<Loaded> {
                let (commands, identifiers, events, periodic): Declared = boot
                    .getattr("load")?
                    .call1((name, source, granted))?
                    .extract()?;
                let commands = commands
                    .into_iter()
                    .map(|(name, security, help)| {
                        Ok(CommandInfo {
                            name,
                            security: security.as_deref().map(security_level).transpose()?,
                            help,
                        })
                    })
                    .collect::<PyResult<_>>()?;
                Ok(Loaded {
                    commands,
                    stdout: String::new(),
                    identifiers,
                    events,
                    periodic: periodic
                        .into_iter()
                        .map(|(name, seconds)| PeriodicInfo { name, seconds })
                        .collect(),
                })
            };
            run().map_err(|e| describe(py, boot, &e))
        });
        let (stdout, _) = take_output();
        if let Some(violation) = audit::take_violation() {
            return Err(violation.as_error());
        }
        loaded.map(|loaded| Loaded { stdout, ..loaded })
    }

    /// Call into the loaded module. `event_json` is the chat event for commands.
    pub fn call(&mut self, target: &Target, args_json: &str, event_json: &str) -> CallOutcome {
        reset_output();
        audit::take_violation();
        let (kind, name) = match target {
            Target::Command(name) => ("command", name.as_str()),
            Target::Function(name) => ("function", name.as_str()),
            Target::Event(name) => ("event", name.as_str()),
            Target::Every(name) => ("every", name.as_str()),
        };
        let result = Python::attach(|py| {
            let boot = self.boot.bind(py);
            let run = || -> PyResult<String> {
                boot.getattr("call")?
                    .call1((kind, name, event_json, args_json))?
                    .extract()
            };
            run().map_err(|e| describe(py, boot, &e))
        });
        let (stdout, output_limit_hit) = take_output();
        let violation = audit::take_violation();
        match result {
            Ok(json) => CallOutcome {
                result: Some(Returned::from_text(json)),
                error: None,
                stdout,
                output_limit_hit,
                violation,
            },
            Err(error) => CallOutcome {
                result: None,
                output_limit_hit: output_limit_hit || error.kind == "OutputLimitExceeded",
                error: Some(error),
                stdout,
                violation,
            },
        }
    }
}

/// A command's `security=` (the `pyward` module checked it already; checked again here, as a
/// type, so that nothing past this point holds a level that is not one).
fn security_level(name: &str) -> PyResult<Security> {
    use serde::Deserialize;
    use serde::de::value::{Error, StrDeserializer};
    // The level's names are Security's own (its serde names, as the policy file spells them).
    Security::deserialize(StrDeserializer::<Error>::new(name)).map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "security must be one of owner, sudo, everyone, not `{name}`"
        ))
    })
}

fn error_info(kind: &str, message: String) -> PyError {
    PyError {
        kind: kind.to_string(),
        message,
        traceback: String::new(),
    }
}

fn reset_output() {
    OUTPUT.with(|o| {
        let mut o = o.borrow_mut();
        o.text.clear();
        o.limit_hit = false;
    });
}

fn take_output() -> (String, bool) {
    OUTPUT.with(|o| {
        let mut o = o.borrow_mut();
        (std::mem::take(&mut o.text), o.limit_hit)
    })
}

/// An exception as text, through the bootstrap's `describe` (traceback from the module's own
/// frames, with its line numbers and lines).
fn describe(py: Python<'_>, boot: &Bound<'_, PyModule>, error: &PyErr) -> PyError {
    let described = boot
        .getattr("describe")
        .and_then(|f| f.call1((error.value(py), error.traceback(py))))
        .and_then(|d| d.extract::<(String, String, String)>());
    match described {
        Ok((kind, message, traceback)) => PyError {
            kind,
            message,
            traceback,
        },
        Err(_) => py_error(py, error),
    }
}

/// An exception as text without the bootstrap (while it is not built yet).
fn py_error(py: Python<'_>, error: &PyErr) -> PyError {
    let kind = error
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    let message = error.value(py).to_string();
    PyError {
        kind,
        message,
        traceback: error
            .traceback(py)
            .and_then(|tb| tb.format().ok())
            .unwrap_or_default(),
    }
}

// --- the native module --------------------------------------------------------------------------

pyo3::create_exception!(
    _pyward_native,
    SandboxViolation,
    pyo3::exceptions::PyException,
    "Something the sandbox refused (a host call, an import, a private attribute, an audit event)."
);

fn install_native_module(py: Python<'_>) -> PyResult<()> {
    let module = PyModule::new(py, "_pyward_native")?;
    module.add_function(wrap_pyfunction!(native_config, &module)?)?;
    module.add_function(wrap_pyfunction!(write, &module)?)?;
    module.add_function(wrap_pyfunction!(host_call, &module)?)?;
    module.add_function(wrap_pyfunction!(host_calls, &module)?)?;
    module.add_function(wrap_pyfunction!(import_allowed_py, &module)?)?;
    module.add_function(wrap_pyfunction!(refuse, &module)?)?;
    module.add_function(wrap_pyfunction!(module_code_on_stack, &module)?)?;
    module.add_function(wrap_pyfunction!(pyward_code, &module)?)?;
    module.add_function(wrap_pyfunction!(module_source, &module)?)?;
    module.add_function(wrap_pyfunction!(sandboxed, &module)?)?;
    module.add("SandboxViolation", py.get_type::<SandboxViolation>())?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("_pyward_native", module)
}

/// The bootstrap's view of the configuration.
#[pyfunction(name = "config")]
fn native_config(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    config(|c| -> PyResult<()> {
        dict.set_item("allowed_imports", PyList::new(py, &c.allowed_imports)?)?;
        dict.set_item("blocked_builtins", PyList::new(py, &c.blocked_builtins)?)?;
        dict.set_item(
            "blocked_attributes",
            PyList::new(py, &c.blocked_attributes)?,
        )?;
        dict.set_item("interpreter_layer", c.layer == InterpreterLayer::On)?;
        dict.set_item("known_events", PyList::new(py, KNOWN_EVENTS)?)?;
        dict.set_item(
            "packages_dir",
            c.packages_dir.as_ref().map(|d| d.display().to_string()),
        )?;
        // The zygote warms the whole allowlist (every import must work), the modules error
        // reports use, and freezes what it made for the workers it forks.
        dict.set_item("zygote", matches!(c.preload, Preload::Allowlist))?;
        match &c.preload {
            Preload::Allowlist => dict.set_item("preload", PyList::new(py, &c.allowed_imports)?)?,
            Preload::Modules(names) => dict.set_item("preload", PyList::new(py, names)?)?,
            Preload::ImportsOf(source) => dict.set_item("preload", PyString::new(py, source))?,
        }
        Ok(())
    })?;
    Ok(dict)
}

/// Append to the captured output. Returns False once the policy's limit is reached.
#[pyfunction]
fn write(text: &str) -> bool {
    OUTPUT.with(|o| {
        let mut o = o.borrow_mut();
        let room = o.limit.saturating_sub(o.text.len());
        if text.len() <= room {
            o.text.push_str(text);
            true
        } else {
            let mut cut = room;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            o.text.push_str(&text[..cut]);
            o.limit_hit = true;
            false
        }
    })
}

/// `(status, payload)`: ("ok", json) | ("denied", message) | ("budget", message) |
/// ("invalid", message) | ("error", message), which the `pyward` module raises as
/// `SandboxViolation`, `pyward.BudgetExceeded`, `ValueError` and `RuntimeError` (see
/// [`HostCallError`]).
#[pyfunction]
fn host_call(name: &str, args_json: &str) -> (&'static str, String) {
    let Some(call) =
        HostCall::from_name(name).filter(|call| GRANTED.with(|g| g.borrow().contains(call)))
    else {
        return (
            "denied",
            format!("host call `{name}` is not granted to this module's trust tier"),
        );
    };
    let answer = HOST.with(|h| match h.borrow_mut().as_mut() {
        // The arguments are the `pyward` module's `json.dumps`: JSON unless a float was NaN or
        // infinite.
        Some(host) => match Json::from_text(args_json.to_string()) {
            Ok(args) => host.call(call, args),
            Err(e) => Err(HostCallError::failed(format!("bad arguments: {e}"))),
        },
        None => Err(HostCallError::failed("no host is connected")),
    });
    match answer {
        Ok(json) => ("ok", json.get().to_string()),
        Err(HostCallError::Denied { reason }) => ("denied", reason),
        Err(HostCallError::OverBudget { message }) => ("budget", message),
        Err(HostCallError::Invalid { message }) => ("invalid", message),
        Err(HostCallError::Failed { message }) => ("error", message),
    }
}

/// Every host function the `pyward` module can have (those not granted are removed at load).
#[pyfunction]
fn host_calls() -> Vec<&'static str> {
    HostCall::ALL.iter().map(|c| c.name()).collect()
}

#[pyfunction(name = "import_allowed")]
fn import_allowed_py(name: &str) -> bool {
    config(|c| import_allowed(&c.allowed_imports, name))
}

/// Record a refusal of the interpreter layer and raise `SandboxViolation` for it.
#[pyfunction]
fn refuse(what: &str, detail: &str) -> PyResult<()> {
    Err(audit::record(what, detail.to_string()))
}

/// Is module code (anything running with the restricted builtins) anywhere on the stack?
#[pyfunction]
fn module_code_on_stack(py: Python<'_>) -> PyResult<bool> {
    let sys = py.import("sys")?;
    let restricted = audit::restricted_builtins();
    // The frames are walked from trusted code: the audit hook lets it.
    let mut frame = sys.getattr("_getframe")?.call0()?;
    while !frame.is_none() {
        if frame.getattr("f_builtins")?.as_ptr() as usize == restricted {
            return Ok(true);
        }
        frame = frame.getattr("f_back")?;
    }
    Ok(false)
}

/// The loaded module's source (for traceback lines), if a module is loaded.
#[pyfunction]
fn module_source() -> Option<String> {
    MODULE_SOURCE.with(|m| m.borrow().clone())
}

/// The `pyward` module's code object.
#[pyfunction]
fn pyward_code(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    code_object(py, PYWARD_CODE, PYWARD_MODULE, "<pyward>")
}

/// Set once the worker's sandbox is up: from then on no C extension can be loaded.
static SANDBOXED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[pyfunction]
fn sandboxed() -> bool {
    SANDBOXED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Is `dotted` (or a package it is inside) on the allowlist, with no private part (unless the
/// allowlist names the private-looking module exactly, as it may `__future__`)?
pub fn import_allowed(allowed: &[String], dotted: &str) -> bool {
    if dotted.split('.').any(str::is_empty) {
        return false;
    }
    if allowed.iter().any(|a| a == dotted) {
        return true;
    }
    if dotted.split('.').any(|part| part.starts_with('_')) {
        return false;
    }
    let mut prefix = String::new();
    for part in dotted.split('.') {
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(part);
        if allowed.contains(&prefix) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests;
