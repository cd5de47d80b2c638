# pyward runtime bootstrap, for the embedded CPython. Runs once per interpreter, trusted, before
# any module code, with the real builtins. It builds the world a module sees: restricted
# builtins with a guarded __import__ and getattr family, an import gate on sys.meta_path, the
# `pyward` host API module, captured output, and an event loop without I/O for async handlers.
# `_native` is the Rust side (worker/src/runtime/mod.rs); the audit hook is installed from Rust
# after this file has run.
#
# The interpreter layer is a tripwire, not a wall: the kernel (Landlock, seccomp, rlimits) is.
import sys
import builtins
import json as _json
import importlib.machinery as _machinery

import _pyward_native as _native

_config = _native.config()
_LAYER_ON = _config["interpreter_layer"]
_ALLOWED = tuple(_config["allowed_imports"])
_BLOCKED_ATTRIBUTES = frozenset(_config["blocked_attributes"])
SandboxViolation = _native.SandboxViolation
_ModuleType = type(sys)


# --- restricted builtins ------------------------------------------------------------------------

def _check_attribute(func, name):
    if not isinstance(name, str):
        raise TypeError("%s(): attribute name must be a string" % func)
    if name.startswith("_") or name in _BLOCKED_ATTRIBUTES:
        _native.refuse(
            "builtins." + func,
            "%s() of the attribute `%s` (private names and the policy's forbidden attributes "
            "cannot be reached dynamically)" % (func, name),
        )


def _guarded_getattr(obj, name, *default):
    _check_attribute("getattr", name)
    return getattr(obj, name, *default)


def _guarded_setattr(obj, name, value):
    _check_attribute("setattr", name)
    return setattr(obj, name, value)


def _guarded_delattr(obj, name):
    _check_attribute("delattr", name)
    return delattr(obj, name)


def _guarded_hasattr(obj, name):
    _check_attribute("hasattr", name)
    return hasattr(obj, name)


def _refuse_import(name, why):
    raise ImportError("pyward: " + why, name=name)


# Internal modules the standard library's C code imports through the caller's `__import__`
# (time.strptime and datetime.strptime import _strptime on every call): handed over once the
# bootstrap has loaded them.
_IMPLICIT = frozenset({"_strptime"})


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    """`__import__` for module code: absolute imports of allowlisted modules only, no private
    names, and no module that is not itself allowed (`from json import codecs`)."""
    if name in _IMPLICIT and not fromlist and level == 0 and name in sys.modules:
        return sys.modules[name]
    if level != 0:
        _refuse_import(name, "relative import of `%s` is refused: a module is one file" % name)
    if not _native.import_allowed(name):
        _refuse_import(
            name,
            "import of `%s` is refused: not in the policy's import allowlist (%s)"
            % (name, ", ".join(_ALLOWED)),
        )
    fromlist = tuple(fromlist or ())
    for item in fromlist:
        if item.startswith("_") and name != "__future__":
            _refuse_import(
                name, "`from %s import %s` is refused: private names are internals" % (name, item)
            )
    module = builtins.__import__(name, globals, locals, fromlist, 0)
    for item in fromlist:
        value = module.__dict__.get(item)
        if isinstance(value, _ModuleType) and not _native.import_allowed(value.__name__):
            _refuse_import(
                name,
                "`from %s import %s` is refused: `%s` is a module outside the allowlist"
                % (name, item, value.__name__),
            )
    return module


if _LAYER_ON:
    # The policy's forbidden names (eval, exec, open, ...) do not exist for module code.
    # __build_class__ stays: every `class` statement needs it; the scanner forbids naming it.
    _blocked = set(_config["blocked_builtins"]) - {"__build_class__"}
    restricted = {k: v for k, v in builtins.__dict__.items() if k not in _blocked}
    restricted["__import__"] = _guarded_import
    restricted["getattr"] = _guarded_getattr
    restricted["setattr"] = _guarded_setattr
    restricted["delattr"] = _guarded_delattr
    restricted["hasattr"] = _guarded_hasattr
else:
    # Test-only: the kernel alone must hold (tests/escapes.rs, "kernel alone").
    restricted = builtins.__dict__


# --- the pyward module and captured output -------------------------------------------------------

def _new_module(name, code):
    import binascii

    module = _ModuleType(name)
    module.__dict__["__builtins__"] = restricted
    module.__dict__["_native"] = _native
    # send_file's encoder, handed over here: the module's own imports are the policy's.
    module.__dict__["_b64encode"] = binascii.b2a_base64
    exec(code, module.__dict__)
    return module


pyward = _new_module("pyward", _native.pyward_code())
sys.modules["pyward"] = pyward
sys.stdout = sys.stderr = pyward._stdout


# --- warm imports ----------------------------------------------------------------------------------

def _imports_of(source):
    """Top-level module names a source imports (for a one-shot run, which warms only those)."""
    import ast

    names = []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


# C extensions must be loaded before seccomp forbids executable mappings, and every import done
# here is one a forked worker does not pay for. (The zygote also warms what error reports use.)
if _config["zygote"]:
    import linecache
    import traceback
_preload = _config["preload"]
if isinstance(_preload, str):
    _preload = _imports_of(_preload)
_packages_dir = _config["packages_dir"]
for _name in _preload:
    if _name != "pyward" and _native.import_allowed(_name):
        try:
            __import__(_name)
        except ImportError:
            if _config["zygote"]:
                raise
            continue
        # A vetted package often loads its parts lazily (a module-level __getattr__, as
        # pydantic does): touch what it exports so that they, and their C extensions, load now.
        _top = sys.modules[_name.partition(".")[0]]
        if _packages_dir and (getattr(_top, "__file__", None) or "").startswith(_packages_dir):
            for _export in getattr(_top, "__all__", ()):
                try:
                    getattr(_top, _export)
                except Exception:
                    pass
# Imports the standard library makes lazily, on first use, from C code (so the first caller
# would otherwise pay for them inside the sandbox).
for _name, _needs in (("_strptime", "datetime"), ("_strptime", "time")):
    if _needs in sys.modules and _name not in sys.modules:
        __import__(_name)
# zoneinfo falls back to importlib.resources (and through shutil to the _bz2/_lzma C
# extensions) for a zone it does not find on disk: walk that path once, before the sandbox.
if "zoneinfo" in sys.modules:
    try:
        sys.modules["zoneinfo"].ZoneInfo("pyward/warm-up")
    except Exception:
        pass


# --- the import gate ----------------------------------------------------------------------------

# Modules that give access to the operating system. Module code never gets them through
# `import` (the guarded __import__ says no first); this gate also refuses them to any import
# that module code sets off by other means, unless the policy allows them by name.
# (Modules whose functions write files, like tempfile or shutil, are not here: the standard
# library imports them lazily on ordinary paths, and the audit hook refuses what they do.)
_NEVER = frozenset(
    "ctypes _ctypes mmap subprocess _posixsubprocess socket _socket ssl _ssl pty tty termios "
    "fcntl resource multiprocessing _multiprocessing _posixshmem signal select selectors "
    "_testcapi _testinternalcapi faulthandler".split()
)


class _ImportGate:
    """First on sys.meta_path: a module not yet imported that grants OS access is refused while
    any module code is on the stack; and once the sandbox is up, a C extension that was not
    loaded before it is an ImportError (seccomp forbids mapping its code; without this the
    worker would be stopped by the kernel for an ordinary lazy import)."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name in _NEVER and not _native.import_allowed(name):
            if _native.module_code_on_stack():
                _native.refuse("import", "module code set off an import of `%s`" % name)
        if _native.sandboxed():
            spec = _machinery.PathFinder.find_spec(name, path, target)
            if spec is not None and isinstance(spec.loader, _machinery.ExtensionFileLoader):
                # Not a refusal (no "pyward:" prefix): a configuration the operator can fix.
                raise ImportError(
                    "`%s` is a C extension that was not loaded before the sandbox started "
                    "(seccomp forbids mapping code afterwards); put the module that needs it "
                    "on the policy's import allowlist so that it is imported first" % name,
                    name=name,
                )
        return None


if _LAYER_ON:
    sys.meta_path.insert(0, _ImportGate)


# --- async handlers -------------------------------------------------------------------------------

def _make_loop():
    """An asyncio event loop with no selector: callbacks, timers, tasks and sleeps work; nothing
    can wait for I/O (there is none in the sandbox), and a wait that can never end is an error
    instead of a hang."""
    import time
    from asyncio import base_events

    class _NoSelector:
        def select(self, timeout):
            if timeout is None:
                raise RuntimeError(
                    "pyward: the handler awaits something that can never finish here "
                    "(no I/O, threads or subprocesses in the sandbox)"
                )
            if timeout > 0:
                time.sleep(timeout)
            return []

        def close(self):
            pass

    class SandboxLoop(base_events.BaseEventLoop):
        def __init__(self):
            super().__init__()
            self._selector = _NoSelector()

        def _process_events(self, event_list):
            pass

        def _write_to_self(self):
            pass

    return SandboxLoop


_SandboxLoop = None
if "asyncio" in sys.modules:
    import asyncio as _asyncio

    _SandboxLoop = _make_loop()

    class _SandboxPolicy(_asyncio.DefaultEventLoopPolicy):
        _loop_factory = _SandboxLoop

    _asyncio.set_event_loop_policy(_SandboxPolicy())


def _drive(coroutine):
    """Run an `async def` handler to completion."""
    if _SandboxLoop is not None:
        loop = _SandboxLoop()
        try:
            return loop.run_until_complete(coroutine)
        finally:
            loop.close()
    # Without asyncio: a coroutine may await its own coroutines, nothing else.
    try:
        while True:
            waiting_on = coroutine.send(None)
            if waiting_on is None:
                continue  # a bare yield (asyncio.sleep(0) style)
            coroutine.close()
            raise RuntimeError(
                "pyward: an async handler awaited %r, which needs an event loop; "
                "allow `asyncio` in the policy's import allowlist" % (type(waiting_on).__name__,)
            )
    except StopIteration as done:
        return done.value


# --- loading and calling ------------------------------------------------------------------------

_module = None
_filename = None


def _identifiers(code, out):
    """Names, attribute names and short string constants in a code object and the ones nested in
    it: what CPython will really look up (the parser cross-check compares it with the scanner's
    view)."""
    out.update(code.co_names)
    out.update(code.co_varnames)
    stack = list(code.co_consts)
    while stack:
        const = stack.pop()
        if isinstance(const, str):
            if len(const) <= 64:
                out.add(const)
        elif isinstance(const, (tuple, frozenset)):
            stack.extend(const)
        elif isinstance(const, type(code)):
            _identifiers(const, out)


def load(name, source, granted):
    """Compile and run a module's source with the restricted builtins. Returns its commands
    (name, security, help) and the identifiers its compiled code uses."""
    global _module, _filename
    for call in _native.host_calls():
        if call not in granted and call in pyward.__dict__:
            del pyward.__dict__[call]
    if "http_request" not in granted:
        # The namespace and its types go with the host call they lead to.
        for attr in ("http", "HttpResponse", "HttpError"):
            pyward.__dict__.pop(attr, None)
    filename = "<module %s>" % name
    code = compile(source, filename, "exec", dont_inherit=True)
    identifiers = set()
    _identifiers(code, identifiers)
    module = _ModuleType(name)
    module.__dict__["__builtins__"] = restricted
    _module, _filename = module, filename
    # dataclasses and typing find a class's module in sys.modules (string annotations). A
    # module named like a standard library module is not registered: it would shadow it.
    if name not in sys.modules:
        sys.modules[name] = module
    exec(code, module.__dict__)
    commands = [
        (command, info["security"], info["help"])
        for command, info in sorted(pyward._commands.items())
    ]
    events = sorted(pyward._events)
    periodic = [(name, info[1]) for name, info in sorted(pyward._every.items())]
    return commands, sorted(identifiers), events, periodic


def call(kind, name, event_json, args_json):
    """Call a command (`handler(event, args)`) or a public module-level function (positional
    arguments from a list, keywords from an object, else one argument). Returns JSON text."""
    if _module is None:
        raise RuntimeError("no module is loaded")
    if kind == "command":
        info = pyward._commands.get(name)
        if info is None:
            raise LookupError("the module declares no command `%s`" % name)
        result = info["function"](_json.loads(event_json), _json.loads(args_json))
    elif kind == "event":
        event = _json.loads(event_json)
        result = []
        for handler in pyward._events.get(name, ()):
            value = handler(event)
            if type(value).__name__ == "coroutine":
                value = _drive(value)
            result.append(value)
    elif kind == "every":
        info = pyward._every.get(name)
        if info is None:
            raise LookupError("the module declares no periodic handler `%s`" % name)
        result = info[0]()
    else:
        if name.startswith("_"):
            raise SandboxViolation("`%s` is private; only public functions can be called" % name)
        function = _module.__dict__.get(name)
        if not callable(function):
            raise LookupError("the module has no function `%s`" % name)
        args = _json.loads(args_json)
        if isinstance(args, list):
            result = function(*args)
        elif isinstance(args, dict):
            result = function(**args)
        else:
            result = function(args)
    if type(result).__name__ == "coroutine":
        result = _drive(result)
    try:
        return _json.dumps(result)
    except RecursionError:
        raise ValueError(
            "pyward: the handler's result is nested too deeply to send as JSON"
        ) from None
    except (TypeError, ValueError) as error:
        raise TypeError("pyward: the handler's result is not JSON: %s" % (error,)) from None


def describe(error, traceback=None):
    """(type name, message, traceback text) for an exception, the traceback starting at the
    module's own code."""
    tb = traceback or error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != _filename:
        tb = tb.tb_next
    if tb is None:
        tb = traceback or error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == "<pyward bootstrap>":
            tb = tb.tb_next
    try:
        # Imported here, not at start: a one-shot run that raises nothing never pays for them.
        import linecache
        import traceback as tracebacks

        # The module's source is kept on the Rust side (not in a global any frame can see).
        source = _native.module_source()
        if _filename is not None and source is not None:
            linecache.cache[_filename] = (len(source), None, source.splitlines(True), _filename)
        text = "".join(tracebacks.format_exception(type(error), error, tb, limit=50))
    except Exception as failure:  # a hostile __str__ or a broken traceback
        text = "(traceback unavailable: %s)" % type(failure).__name__
    try:
        message = str(error)
    except Exception:
        message = "(the exception's message could not be read)"
    return type(error).__name__, message, text


# The zygote's objects are never collected again: a forked worker's collector then leaves the
# shared pages alone (copy-on-write stays shared).
if _config["zygote"]:
    import gc as _gc

    _gc.collect()
    _gc.freeze()
