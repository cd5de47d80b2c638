# pyward runtime bootstrap. Runs once per interpreter, trusted, before any module code, with the
# real builtins. It builds the world a module sees: an `os` shim without OS access, restricted
# builtins, the `pyward` host API module, and captured output. `_native` is the Rust side.
import sys
import builtins

_native = sys.modules["_pyward_native"]


def _make_os_shim():
    """Just enough `os` for pure-Python stdlib modules (random, posixpath): no files, no
    processes, no environment. urandom reads the kernel's getrandom."""
    os = type(sys)("os")
    os.name = "posix"
    os.sep = "/"
    os.altsep = None
    os.extsep = "."
    os.pathsep = ":"
    os.linesep = "\n"
    os.curdir = "."
    os.pardir = ".."
    os.defpath = ""
    os.devnull = "/dev/null"
    os.environ = {}
    os.environb = {}
    os.error = OSError
    os.supports_bytes_environ = False
    os.urandom = _native.urandom

    def fspath(path):
        if isinstance(path, (str, bytes)):
            return path
        raise TypeError("expected str or bytes, not " + type(path).__name__)

    def getenv(key, default=None):
        return default

    def getcwd():
        return "/"

    def cpu_count():
        return 1

    os.fspath = fspath
    os.getenv = getenv
    os.getcwd = getcwd
    os.cpu_count = cpu_count
    return os


sys.modules["os"] = _make_os_shim()
import posixpath as _posixpath  # noqa: E402  (needs the shim above)

sys.modules["os"].path = _posixpath
sys.modules["os.path"] = _posixpath

# Names a module's builtins do not have (the policy's forbidden names). __build_class__ stays:
# every `class` statement needs it; the scanner forbids naming it.
_blocked = set(_native.blocked_builtins()) - {"__build_class__"}
restricted = {k: v for k, v in builtins.__dict__.items() if k not in _blocked}
restricted["getattr"] = _native.guarded_getattr
restricted["setattr"] = _native.guarded_setattr
restricted["delattr"] = _native.guarded_delattr
restricted["hasattr"] = _native.guarded_hasattr


def new_module(name, source):
    """A module whose code runs with the restricted builtins."""
    module = type(sys)(name)
    module.__dict__["__builtins__"] = restricted
    module.__dict__["_native"] = _native
    _native.guard_globals(module.__dict__)
    exec(source, module.__dict__)
    return module


pyward = new_module("pyward", _native.pyward_source())
sys.modules["pyward"] = pyward
sys.stdout = sys.stderr = pyward._stdout

# Pre-import what modules may import, so a forked worker pays nothing for it (the zygote).
# A one-shot run skips this and imports lazily, inside the sandbox, what its module needs.
if _native.preload():
    for _name in _native.allowed_imports():
        if _name != "pyward":
            __import__(_name)


def module_globals(name):
    return {"__builtins__": restricted, "__name__": name}


def _drive(coroutine):
    """Run an `async def` handler to completion without an event loop: host calls are
    synchronous, so a coroutine that is waiting on anything else can never finish here."""
    try:
        while True:
            waiting_on = coroutine.send(None)
            coroutine.close()
            raise RuntimeError(
                "pyward: an async handler awaited %r; handlers may await their own coroutines, "
                "and host calls need no await" % (type(waiting_on).__name__,)
            )
    except StopIteration as done:
        return done.value


import json as _json  # noqa: E402


def invoke(function, event_json, args_json, as_command):
    args = _json.loads(args_json)
    if as_command:
        result = function(_json.loads(event_json), args)
    elif isinstance(args, list):
        result = function(*args)
    elif isinstance(args, dict):
        result = function(**args)
    else:
        result = function(args)
    if type(result).__name__ == "coroutine":
        result = _drive(result)
    try:
        return _json.dumps(result)
    except (TypeError, ValueError) as error:
        raise TypeError("pyward: the handler's result is not JSON: %s" % (error,))
