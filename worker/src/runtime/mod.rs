//! The embedded interpreter: RustPython without `host_env` (no os, posix, socket, ctypes or file
//! I/O compiled in), plus an in-language layer on top of it: restricted builtins, an import
//! allowlist, a safe `os` shim, captured output, a coroutine driver, and the `pyward` module as
//! the only door out.
//!
//! The in-language layer is a tripwire, not a wall: a module that gets hold of an allowed
//! stdlib module's globals reaches the real builtins. The wall is the OS sandbox around the
//! process, and the test suite runs every escape with the scanner off to prove it holds.

use std::cell::RefCell;
use std::collections::BTreeSet;

use pyward_policy::config::HostCall;
use rustpython::InterpreterBuilderExt;
use rustpython_vm::builtins::{PyBaseExceptionRef, PyDictRef, PyStr, PyType};
use rustpython_vm::compiler::Mode;
use rustpython_vm::function::FuncArgs;
use rustpython_vm::scope::Scope;
use rustpython_vm::{
    AsObject, Interpreter, InterpreterBuilder, PyObjectRef, PyResult, Settings, VirtualMachine,
};
use serde::{Deserialize, Serialize};

const BOOTSTRAP: &str = include_str!("bootstrap.py");
const PYWARD_MODULE: &str = include_str!("pyward.py");

/// What the interpreter is set up with (from the policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub allowed_imports: Vec<String>,
    pub blocked_builtins: Vec<String>,
    pub max_output_bytes: usize,
    /// Import every allowed module up front: right for the zygote (workers fork warm), wasted
    /// on a one-shot run, which imports lazily what its module needs.
    pub preload: bool,
}

impl RuntimeConfig {
    pub fn from_policy(policy: &pyward_policy::Policy) -> RuntimeConfig {
        let mut allowed: Vec<String> = policy.scan.allowed_imports.iter().cloned().collect();
        allowed.sort();
        let mut blocked: Vec<String> = policy.scan.forbidden_names.iter().cloned().collect();
        blocked.sort();
        RuntimeConfig {
            allowed_imports: allowed,
            blocked_builtins: blocked,
            max_output_bytes: policy.sandbox.max_output_bytes,
            preload: true,
        }
    }
}

/// Answers the module's host calls: a link to the supervisor in a worker, a stand-in in
/// `pyward run` and in tests.
pub trait HostBridge {
    /// `Ok(json)` with the host's answer, or `Err(message)` when the host refused or failed.
    fn call(&mut self, name: &str, args_json: &str) -> Result<String, String>;
}

/// A command a module declared with `@pyward.command`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandInfo {
    pub name: String,
    pub security: Option<String>,
    pub help: String,
}

/// What loading a module produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loaded {
    pub commands: Vec<CommandInfo>,
    /// What the module printed while it was being loaded.
    pub stdout: String,
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
    /// ungranted host calls) rather than by the module's logic.
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
}

/// How a call ended, as far as the interpreter knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcome {
    /// The handler's result as JSON text, when it returned.
    pub result: Option<String>,
    pub error: Option<PyError>,
    pub stdout: String,
    pub output_limit_hit: bool,
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
    /// Globals dicts of module code (and of `pyward`): imports from frames running with these
    /// globals are held to the allowlist; the stdlib's own imports are not.
    static GUARDED_GLOBALS: RefCell<Vec<PyObjectRef>> = const { RefCell::new(Vec::new()) };
}

fn is_guarded(globals: &PyObjectRef) -> bool {
    GUARDED_GLOBALS.with(|g| g.borrow().iter().any(|d| d.is(globals)))
}

fn config<T>(f: impl FnOnce(&RuntimeConfig) -> T) -> T {
    CONFIG.with(|c| f(c.borrow().as_ref().expect("runtime configured before use")))
}

/// The interpreter, warmed: stdlib imported, `pyward` built.
pub struct Runtime {
    interp: Interpreter,
    boot: PyDictRef,
    module: Option<LoadedModule>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("module", &self.module.as_ref().map(|m| &m.name))
            .finish_non_exhaustive()
    }
}

struct LoadedModule {
    name: String,
    globals: PyDictRef,
}

impl Runtime {
    /// Build and warm the interpreter. Trusted work: no module code runs here.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, PyError> {
        OUTPUT.with(|o| o.borrow_mut().limit = config.max_output_bytes);
        CONFIG.with(|c| *c.borrow_mut() = Some(config));
        let mut settings = Settings::default();
        settings.path_list.clear();
        settings.import_site = false;
        settings.ignore_environment = true;
        settings.install_signal_handlers = false;
        settings.isolated = true;
        settings.safe_path = true;
        settings.user_site_directory = false;
        settings.write_bytecode = false;
        let interp = InterpreterBuilder::new()
            .settings(settings)
            .init_stdlib()
            .interpreter();
        let boot = interp.enter(|vm| -> Result<PyDictRef, PyError> {
            install_native_module(vm).map_err(|e| py_error(vm, &e))?;
            let boot = vm.ctx.new_dict();
            boot.set_item("__builtins__", vm.builtins.clone().into(), vm)
                .map_err(|e| py_error(vm, &e))?;
            boot.set_item("__name__", vm.ctx.new_str("_pyward_boot").into(), vm)
                .map_err(|e| py_error(vm, &e))?;
            let code = vm
                .compile(BOOTSTRAP, Mode::Exec, "<pyward bootstrap>".to_owned())
                .map_err(|e| PyError {
                    kind: "SyntaxError".into(),
                    message: e.to_string(),
                    traceback: String::new(),
                })?;
            vm.run_code_obj(code, Scope::with_builtins(None, boot.clone(), vm))
                .map_err(|e| py_error(vm, &e))?;
            Ok(boot)
        })?;
        Ok(Runtime {
            interp,
            boot,
            module: None,
        })
    }

    /// Where host calls go from now on.
    pub fn set_host(&mut self, host: Box<dyn HostBridge>) {
        HOST.with(|h| *h.borrow_mut() = Some(host));
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
        let boot = self.boot.clone();
        let (globals, commands) = self.interp.enter(|vm| {
            let run = || -> PyResult<Result<(PyDictRef, Vec<CommandInfo>), PyError>> {
                let pyward = vm.import("pyward", 0)?;
                for call in HostCall::ALL {
                    if !granted.contains(&call) {
                        pyward.del_attr(call.name(), vm)?;
                    }
                }
                let code = match vm.compile(source, Mode::Exec, format!("<module {name}>")) {
                    Ok(code) => code,
                    Err(e) => {
                        return Ok(Err(PyError {
                            kind: "SyntaxError".into(),
                            message: e.to_string(),
                            traceback: String::new(),
                        }));
                    }
                };
                let globals = boot
                    .get_item("module_globals", vm)?
                    .call((vm.ctx.new_str(name),), vm)?
                    .downcast::<rustpython_vm::builtins::PyDict>()
                    .map_err(|_| vm.new_type_error("module_globals did not return a dict"))?;
                GUARDED_GLOBALS.with(|g| g.borrow_mut().push(globals.clone().into()));
                if let Err(e) =
                    vm.run_code_obj(code, Scope::with_builtins(None, globals.clone(), vm))
                {
                    return Ok(Err(py_error(vm, &e)));
                }
                Ok(Ok((globals, declared_commands(vm, &pyward)?)))
            };
            match run() {
                Ok(result) => result,
                Err(e) => Err(py_error(vm, &e)),
            }
        })?;
        self.module = Some(LoadedModule {
            name: name.to_string(),
            globals,
        });
        let (stdout, _) = take_output();
        Ok(Loaded { commands, stdout })
    }

    /// Call into the loaded module. `event_json` is the chat event for commands.
    pub fn call(&mut self, target: &Target, args_json: &str, event_json: &str) -> CallOutcome {
        reset_output();
        let Some(module) = &self.module else {
            return failed("RuntimeError", "no module is loaded");
        };
        let globals = module.globals.clone();
        let boot = self.boot.clone();
        let result = self.interp.enter(|vm| {
            let run = || -> PyResult<Result<String, PyError>> {
                let (function, as_command) = match target {
                    Target::Command(name) => {
                        let pyward = vm.import("pyward", 0)?;
                        let commands = pyward.get_attr("_commands", vm)?;
                        match commands.get_item(name.as_str(), vm) {
                            Ok(info) => (info.get_item("function", vm)?, true),
                            Err(_) => {
                                return Ok(Err(error_info(
                                    "LookupError",
                                    format!("the module declares no command `{name}`"),
                                )));
                            }
                        }
                    }
                    Target::Function(name) => {
                        if name.starts_with('_') {
                            return Ok(Err(error_info(
                                "SandboxViolation",
                                format!("`{name}` is private; only public functions can be called"),
                            )));
                        }
                        match globals.get_item(name.as_str(), vm) {
                            Ok(f) if f.is_callable() => (f, false),
                            _ => {
                                return Ok(Err(error_info(
                                    "LookupError",
                                    format!("the module has no function `{name}`"),
                                )));
                            }
                        }
                    }
                };
                let invoke = boot.get_item("invoke", vm)?;
                let args = (
                    function,
                    vm.ctx.new_str(event_json),
                    vm.ctx.new_str(args_json),
                    vm.ctx.new_bool(as_command),
                );
                match invoke.call(args, vm) {
                    Ok(json) => Ok(Ok(json.try_into_value::<String>(vm)?)),
                    Err(e) => Ok(Err(py_error(vm, &e))),
                }
            };
            match run() {
                Ok(result) => result,
                Err(e) => Err(py_error(vm, &e)),
            }
        });
        let (stdout, output_limit_hit) = take_output();
        match result {
            Ok(json) => CallOutcome {
                result: Some(json),
                error: None,
                stdout,
                output_limit_hit,
            },
            Err(error) => CallOutcome {
                result: None,
                output_limit_hit: output_limit_hit || error.kind == "OutputLimitExceeded",
                error: Some(error),
                stdout,
            },
        }
    }
}

fn failed(kind: &str, message: &str) -> CallOutcome {
    CallOutcome {
        result: None,
        error: Some(error_info(kind, message.to_string())),
        stdout: String::new(),
        output_limit_hit: false,
    }
}

fn error_info(kind: &str, message: String) -> PyError {
    PyError {
        kind: kind.to_string(),
        message,
        traceback: String::new(),
    }
}

fn declared_commands(vm: &VirtualMachine, pyward: &PyObjectRef) -> PyResult<Vec<CommandInfo>> {
    let commands = pyward
        .get_attr("_commands", vm)?
        .downcast::<rustpython_vm::builtins::PyDict>()
        .map_err(|_| vm.new_type_error("pyward._commands is not a dict"))?;
    let mut out = Vec::new();
    for (name, info) in &commands {
        let security = info.get_item("security", vm)?;
        out.push(CommandInfo {
            name: name.try_into_value(vm)?,
            security: if vm.is_none(&security) {
                None
            } else {
                Some(security.try_into_value(vm)?)
            },
            help: info.get_item("help", vm)?.try_into_value(vm)?,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
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

/// An exception as text: its type, message and formatted traceback.
fn py_error(vm: &VirtualMachine, exc: &PyBaseExceptionRef) -> PyError {
    let kind = exc.class().name().to_string();
    let message = exc
        .as_object()
        .str(vm)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut traceback = String::new();
    let _ = vm.write_exception(&mut traceback, exc);
    PyError {
        kind,
        message,
        traceback,
    }
}

// --- the native module ------------------------------------------------------------------------

fn install_native_module(vm: &VirtualMachine) -> PyResult<()> {
    type Native = fn(FuncArgs, &VirtualMachine) -> PyResult;
    // (name in the module, the function's own __name__, the function)
    let natives: [(&str, &'static str, Native); 11] = [
        ("urandom", "urandom", urandom),
        ("write", "write", write),
        ("host_call", "host_call", host_call),
        ("blocked_builtins", "blocked_builtins", blocked_builtins),
        ("allowed_imports", "allowed_imports", allowed_imports),
        ("preload", "preload", preload),
        ("pyward_source", "pyward_source", pyward_source),
        ("guarded_getattr", "getattr", guarded_getattr),
        ("guarded_setattr", "setattr", guarded_setattr),
        ("guarded_delattr", "delattr", guarded_delattr),
        ("guarded_hasattr", "hasattr", guarded_hasattr),
    ];
    let dict = vm.ctx.new_dict();
    for (key, name, function) in natives {
        dict.set_item(key, vm.new_function(name, function).into(), vm)?;
    }
    dict.set_item(
        "guard_globals",
        vm.new_function("guard_globals", guard_globals).into(),
        vm,
    )?;
    // RustPython's import statement calls the builtins module's `__import__` (not the frame's
    // `__builtins__`), so the guard replaces it for everyone and decides by the caller's globals.
    vm.builtins.set_attr(
        "__import__",
        vm.new_function("__import__", guarded_import),
        vm,
    )?;
    let module = vm.new_module("_pyward_native", dict, None);
    vm.sys_module
        .get_attr("modules", vm)?
        .set_item("_pyward_native", module.into(), vm)
}

fn arg_str(args: &FuncArgs, index: usize, vm: &VirtualMachine) -> PyResult<String> {
    args.args
        .get(index)
        .ok_or_else(|| vm.new_type_error(format!("missing argument {}", index + 1)))?
        .clone()
        .try_into_value(vm)
}

fn urandom(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let n: usize = args
        .args
        .first()
        .ok_or_else(|| vm.new_type_error("urandom(n)"))?
        .clone()
        .try_into_value(vm)?;
    if n > 1 << 20 {
        return Err(vm.new_value_error("urandom: at most 1 MiB at a time"));
    }
    let mut buf = vec![0u8; n];
    crate::sys::getrandom(&mut buf).map_err(|e| vm.new_os_error(e.to_string()))?;
    Ok(vm.ctx.new_bytes(buf).into())
}

/// Append to the captured output. Returns False once the policy's limit is reached.
fn write(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let text = arg_str(&args, 0, vm)?;
    let fits = OUTPUT.with(|o| {
        let mut o = o.borrow_mut();
        let room = o.limit.saturating_sub(o.text.len());
        if text.len() <= room {
            o.text.push_str(&text);
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
    });
    Ok(vm.ctx.new_bool(fits).into())
}

/// `(status, payload)`: ("ok", json) | ("denied", message) | ("error", message).
fn host_call(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let name = arg_str(&args, 0, vm)?;
    let args_json = arg_str(&args, 1, vm)?;
    let granted =
        HostCall::from_name(&name).is_some_and(|call| GRANTED.with(|g| g.borrow().contains(&call)));
    let (status, payload) = if !granted {
        (
            "denied",
            format!("host call `{name}` is not granted to this module's trust tier"),
        )
    } else {
        let answer = HOST.with(|h| match h.borrow_mut().as_mut() {
            Some(host) => host.call(&name, &args_json),
            None => Err("no host is connected".to_string()),
        });
        match answer {
            Ok(json) => ("ok", json),
            Err(message) if message.starts_with("denied:") => (
                "denied",
                message.trim_start_matches("denied:").trim().to_string(),
            ),
            Err(message) => ("error", message),
        }
    };
    Ok(vm
        .new_tuple((vm.ctx.new_str(status), vm.ctx.new_str(payload)))
        .into())
}

/// Mark a globals dict as module code: its imports are held to the allowlist.
fn guard_globals(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let globals = args
        .args
        .first()
        .ok_or_else(|| vm.new_type_error("guard_globals(dict)"))?
        .clone();
    GUARDED_GLOBALS.with(|g| g.borrow_mut().push(globals));
    Ok(vm.ctx.none())
}

fn string_list(vm: &VirtualMachine, items: Vec<String>) -> PyObjectRef {
    vm.ctx
        .new_list(
            items
                .into_iter()
                .map(|s| vm.ctx.new_str(s).into())
                .collect(),
        )
        .into()
}

fn blocked_builtins(_args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    Ok(string_list(vm, config(|c| c.blocked_builtins.clone())))
}

fn allowed_imports(_args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    Ok(string_list(vm, config(|c| c.allowed_imports.clone())))
}

fn preload(_args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    Ok(vm.ctx.new_bool(config(|c| c.preload)).into())
}

fn pyward_source(_args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    Ok(vm.ctx.new_str(PYWARD_MODULE).into())
}

/// Is `dotted` (or a package it is inside) on the allowlist, with no private part?
pub fn import_allowed(allowed: &[String], dotted: &str) -> bool {
    if dotted
        .split('.')
        .any(|part| part.is_empty() || part.starts_with('_'))
    {
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

/// `__import__` for everyone. Imports from module code (frames whose globals are guarded) must
/// be on the policy's allowlist, absolute, take no private name, and take no module that is
/// not itself allowed (`from json import codecs`); all other imports pass through unchanged.
fn guarded_import(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let guarded = args
        .args
        .get(1)
        .or_else(|| args.kwargs.get("globals"))
        .is_some_and(is_guarded);
    if !guarded {
        return vm.import_func.call(args, vm);
    }
    let name = arg_str(&args, 0, vm)?;
    let level: i64 = match args.args.get(4).or_else(|| args.kwargs.get("level")) {
        Some(level) => level.clone().try_into_value(vm)?,
        None => 0,
    };
    let refuse = |why: String| -> PyResult {
        Err(vm.new_import_error(format!("pyward: {why}"), vm.ctx.new_str(name.as_str())))
    };
    if level != 0 {
        return refuse(format!(
            "relative import of `{name}` is refused: a module is one file"
        ));
    }
    let allowed = config(|c| c.allowed_imports.clone());
    if !import_allowed(&allowed, &name) {
        return refuse(format!(
            "import of `{name}` is refused: not in the policy's import allowlist ({})",
            allowed.join(", ")
        ));
    }
    let fromlist: Vec<String> = match args.args.get(3).or_else(|| args.kwargs.get("fromlist")) {
        Some(list) if !vm.is_none(list) => list.clone().try_into_value(vm)?,
        _ => Vec::new(),
    };
    if let Some(private) = fromlist.iter().find(|n| n.starts_with('_')) {
        return refuse(format!(
            "`from {name} import {private}` is refused: private names are internals"
        ));
    }
    let module = vm.import_func.call(args, vm)?;
    for item in &fromlist {
        if let Some(value) = vm.get_attribute_opt(module.clone(), &vm.ctx.new_str(item.as_str()))?
            && value.class().is(vm.ctx.types.module_type)
        {
            let inner: String = value.get_attr("__name__", vm)?.try_into_value(vm)?;
            if !import_allowed(&allowed, &inner) {
                return refuse(format!(
                    "`from {name} import {item}` is refused: `{inner}` is a module outside the allowlist"
                ));
            }
        }
    }
    Ok(module)
}

fn attribute_name(args: &FuncArgs, func: &str, vm: &VirtualMachine) -> PyResult<()> {
    let name = args
        .args
        .get(1)
        .ok_or_else(|| vm.new_type_error(format!("{func} expected at least 2 arguments")))?;
    let Some(name) = name.downcast_ref::<PyStr>() else {
        return Err(vm.new_type_error(format!("{func}(): attribute name must be a string")));
    };
    let name = name.to_string();
    if name.starts_with('_') {
        let violation = sandbox_violation_type(vm)?;
        return Err(vm.new_exception_msg(
            violation,
            format!("{func}() of the private attribute `{name}` is refused by the sandbox").into(),
        ));
    }
    Ok(())
}

fn sandbox_violation_type(vm: &VirtualMachine) -> PyResult<rustpython_vm::PyRef<PyType>> {
    vm.import("pyward", 0)?
        .get_attr("SandboxViolation", vm)?
        .downcast::<PyType>()
        .map_err(|_| vm.new_type_error("pyward.SandboxViolation is not a type"))
}

fn call_builtin(name: &'static str, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    vm.builtins.get_attr(name, vm)?.call(args, vm)
}

fn guarded_getattr(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    attribute_name(&args, "getattr", vm)?;
    call_builtin("getattr", args, vm)
}

fn guarded_setattr(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    attribute_name(&args, "setattr", vm)?;
    call_builtin("setattr", args, vm)
}

fn guarded_delattr(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    attribute_name(&args, "delattr", vm)?;
    call_builtin("delattr", args, vm)
}

fn guarded_hasattr(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    attribute_name(&args, "hasattr", vm)?;
    call_builtin("hasattr", args, vm)
}

#[cfg(test)]
mod tests;
