"""What the Python scripts in scripts/ share: the project's client, a policy file, a supervisor
to talk to, /proc figures, a percentile, and the build.

Each script imports it from its own directory (Python puts a script's directory first on
sys.path):

    from pywardlib import Client, policy_toml, start_supervisor

    with open(config, "w") as f:
        f.write(policy_toml(socket, state_dir, rate_limit={"calls_per_window": 10000}))
    with start_supervisor(pyward, config, socket) as supervisor:
        async with Client(socket) as client: ...

* `Client`, `PywardError`: the project's own asyncio client (clients/python/pyward_client,
  imported from there, not copied). `RawConnection` is the one other way to talk to a
  supervisor, for what that client rightly never does: send malformed, partial or unread input
  and look at the raw lines that come back.
* `policy_toml()`: the text of a policy file for a throwaway supervisor.
* `start_supervisor()`: `pyward serve` started, waited for, stopped; if it dies, the error says
  so with the end of its log. `Supervisor` is the same without the `with`, for a script that
  kills and restarts it.
* `processes()`, `children()`, `descendants()`, `alive()`, `status()`, `rss_kib()`,
  `open_fds()`: what /proc says about a process and its children.
* `percentile()`: nearest rank, the one definition every script reports.
* `build()`, `target_dir()`: cargo's binaries, where cargo puts them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket as socketlib
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import IO, Dict, Iterator, List, Mapping, Optional, Sequence, Union

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT_DIR = os.path.join(ROOT, "clients", "python")
if CLIENT_DIR not in sys.path:
    sys.path.insert(0, CLIENT_DIR)

from pyward_client import Client, PywardError  # noqa: E402  (found through CLIENT_DIR)

__all__ = [
    "ROOT", "Client", "PywardError", "RawConnection", "request_line",
    "TomlValue", "policy_toml", "SupervisorDied", "Supervisor", "start_supervisor",
    "ProcessInfo", "processes", "children", "descendants", "alive", "status", "rss_kib",
    "open_fds", "percentile", "target_dir", "build",
]


# -- raw lines --------------------------------------------------------------------------------

def request_line(method: str, params: Optional[Mapping[str, object]] = None, request_id: int = 1) -> bytes:
    """One JSON-RPC request as the bytes of a line; `params` is left out when None."""
    message: Dict[str, object] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = dict(params)
    return (json.dumps(message) + "\n").encode()


class RawConnection:
    """A blocking connection to a supervisor's socket that sends bytes as given and reads lines
    whole, however long: for abuse and malformed-input tests only (partial lines, requests never
    read, answers whose length is the point). Anything else talks through `Client`."""

    def __init__(self, path: str, timeout: Optional[float] = None) -> None:
        self.sock = socketlib.socket(socketlib.AF_UNIX)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        # Set after connecting, so that connecting itself blocks as a bot's would.
        self.sock.settimeout(timeout)
        self._reader: Optional[IO[bytes]] = None

    def send(self, data: bytes) -> int:
        """As much of `data` as the socket takes now; how much that was."""
        return self.sock.send(data)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self) -> bytes:
        """The next line, with its newline (without one at the end of the stream)."""
        if self._reader is None:
            self._reader = self.sock.makefile("rb")
        return self._reader.readline()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self.sock.close()

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the policy file --------------------------------------------------------------------------

#: What a policy value may be: TOML scalars, arrays, and tables.
TomlValue = Union[str, int, float, bool, Sequence["TomlValue"], Mapping[str, "TomlValue"]]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # JSON's escapes are TOML's; DEL is the one character TOML wants escaped that JSON leaves.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007F")


def _toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join("{} = {}".format(_toml_key(k), _toml_value(v)) for k, v in value.items()) + " }"
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def _toml_table(name: str, table: Mapping[str, TomlValue]) -> List[str]:
    """`[name]` with its keys; a value that is itself a table becomes `[name.key]` after them
    (and `[name]` is left out if it would be empty)."""
    keys = ["{} = {}".format(_toml_key(k), _toml_value(v)) for k, v in table.items() if not isinstance(v, Mapping)]
    subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    lines = ["[{}]".format(name)] + keys if keys or not subtables else []
    for key, value in subtables:
        lines += ([""] if lines else []) + _toml_table("{}.{}".format(name, _toml_key(key)), value)
    return lines


def policy_toml(socket: str, state_dir: str, *, admin_uid: Optional[int] = None, bot_uids: Sequence[int] = (),
                **tables: Mapping[str, TomlValue]) -> str:
    """A policy file for a throwaway supervisor: `[server]` on `socket` and `state_dir`, one
    admin peer (`admin_uid`, the calling uid unless given), a bot peer for each of `bot_uids`,
    then every other table as given, in that order:

        policy_toml(sock, state, acl={"owners": ["@me"]}, rate_limit={"calls_per_window": 10000},
                    tiers={"community": {"http": True}})

    What is not given is the built-in default (docs/policy.md)."""
    lines = _toml_table("server", {"socket": socket, "state_dir": state_dir})
    peers = [(os.getuid() if admin_uid is None else admin_uid, "admin")] + [(uid, "bot") for uid in bot_uids]
    for uid, role in peers:
        lines += ["", "[[clients]]", "uid = {}".format(uid), "role = {}".format(_toml_string(role))]
    for name, table in tables.items():
        lines += [""] + _toml_table(_toml_key(name), table)
    return "\n".join(lines) + "\n"


# -- the supervisor ---------------------------------------------------------------------------

class SupervisorDied(SystemExit):
    """`pyward serve` ended, or never listened, when it was meant to serve. The message says how
    and ends with the tail of its log; uncaught, the script prints it and exits 1."""


class Supervisor:
    """One `pyward serve --config CONFIG` listening on `socket`, its stdout and stderr appended to
    `log` (serve.log beside the config unless given). `wrapper` runs it under another program
    (`["strace", "-f", ...]`): that program's only child is then the supervisor.

    `start()` may be called again after the process ended (a script restarting it after a
    kill); `pids` holds every supervisor pid started."""

    def __init__(self, pyward: str, config: str, socket: str, *, log: Optional[str] = None,
                 wrapper: Sequence[str] = ()) -> None:
        self.pyward, self.config, self.socket = pyward, config, socket
        self.log = log or os.path.join(os.path.dirname(os.path.abspath(config)), "serve.log")
        self.wrapper = list(wrapper)
        self.process: Optional["subprocess.Popen[bytes]"] = None
        self.pids: List[int] = []
        self._serve_pid: Optional[int] = None
        self._ending = False  # this script ended it (stop, or a signal that ends it)

    def start(self, timeout: float = 30.0) -> float:
        """Start it and wait until it accepts a connection; the seconds that took. Raises
        `SupervisorDied` if it ends first, or does not listen within `timeout` (then it is
        killed)."""
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.wrapper + [self.pyward, "serve", "--config", self.config],
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self._serve_pid = None if self.wrapper else self.process.pid
        if self._serve_pid is not None:
            self.pids.append(self._serve_pid)  # even if it never listens: its children count too
        self._ending = False
        while True:
            if self.process.poll() is not None:
                self._ending = True  # reported here, not again by stop()
                raise SupervisorDied(self._ended("before it listened on {}".format(self.socket)))
            if time.monotonic() - started > timeout:
                self._ending = True
                self._kill()
                raise SupervisorDied("pyward serve did not listen on {} within {:.0f} s; it was killed. {}".format(
                    self.socket, timeout, self.log_tail()))
            try:
                with socketlib.socket(socketlib.AF_UNIX) as probe:
                    probe.connect(self.socket)
                break
            except OSError:
                time.sleep(0.02)
        if self.pid not in self.pids:
            self.pids.append(self.pid)  # under a wrapper, known only now
        return time.monotonic() - started

    @property
    def pid(self) -> int:
        """The supervisor's pid (under a wrapper, the wrapper's child)."""
        if self.process is None:
            raise RuntimeError("pyward serve was not started")
        if self._serve_pid is None:
            found = children(self.process.pid)
            if not found:
                raise RuntimeError("{} has no child (yet): no supervisor to name".format(self.wrapper[0]))
            self._serve_pid = found[0]
        return self._serve_pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        """Send `sig` to the supervisor; nothing if it has ended already. SIGKILL, SIGTERM and
        SIGINT end it: after them its end is this script's doing, not a crash."""
        if not self.running():
            return
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            self._ending = True
        os.kill(self.pid, sig)

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for it to end (raises subprocess.TimeoutExpired); its exit status."""
        if self.process is None:
            raise RuntimeError("pyward serve was not started")
        return self.process.wait(timeout)

    def stop(self, timeout: float = 10.0) -> Optional[str]:
        """End it (SIGTERM, then SIGKILL after `timeout`) and wait. None if all was well; else
        what went wrong, with the tail of its log: it had ended by itself (a crash), or it did
        not stop cleanly on SIGTERM."""
        if self.process is None:
            return None
        crashed = None if self._ending or self.running() else self._ended("while it was in use")
        if self.running():
            self._ending = True
            with contextlib.suppress(ProcessLookupError, RuntimeError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                return "pyward serve did not stop within {:.0f} s of SIGTERM; it was killed. {}".format(
                    timeout, self.log_tail())
            if code != 0 and crashed is None:
                return "pyward serve exited with status {} on SIGTERM. {}".format(code, self.log_tail())
        return crashed

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 16384))
                text = f.read().decode("utf-8", "replace")
        except OSError as error:
            return "Its log {} cannot be read: {}".format(self.log, error)
        tail = text.splitlines()[-lines:]
        if not tail:
            return "Its log {} is empty.".format(self.log)
        return "Its log {} ends:\n".format(self.log) + "\n".join("    " + line for line in tail)

    def _ended(self, when: str) -> str:
        assert self.process is not None
        code = self.process.returncode
        how = "was killed by {}".format(signal.Signals(-code).name) if code < 0 else "exited with status {}".format(code)
        return "pyward serve {} {}. {}".format(how, when, self.log_tail())

    def _kill(self) -> None:
        assert self.process is not None
        # Under a wrapper, the supervisor too: it would outlive a killed strace, detached.
        for pid in [self.process.pid] + (children(self.process.pid) if self.wrapper else []):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()


@contextlib.contextmanager
def start_supervisor(pyward: str, config: str, socket: str, *, log: Optional[str] = None,
                     wrapper: Sequence[str] = (), timeout: float = 30.0) -> Iterator[Supervisor]:
    """`pyward serve` for the body of a `with`: started, and waited for until it accepts a
    connection (`SupervisorDied` with the tail of its log if it ends first, or does not listen
    within `timeout`); stopped, and waited for, at the end. If it had ended by itself by then,
    or does not stop cleanly, `SupervisorDied` says so (chained to the body's own error, if
    any, which is often only its consequence)."""
    supervisor = Supervisor(pyward, config, socket, log=log, wrapper=wrapper)
    supervisor.start(timeout)
    try:
        yield supervisor
    except BaseException as error:
        problem = supervisor.stop()
        if problem:
            raise SupervisorDied(problem) from error
        raise
    problem = supervisor.stop()
    if problem:
        raise SupervisorDied(problem)


# -- /proc ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    state: str  # "R", "S", "T", "Z", ...
    comm: str


def processes() -> Dict[int, ProcessInfo]:
    """Every process on the machine, from /proc/PID/stat."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/{}/stat".format(name)) as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: it runs from the first "(" to the last ")".
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2:].split()
        table[int(name)] = ProcessInfo(int(name), int(rest[1]), rest[0], comm)
    return table


def children(pid: int, comm: Optional[str] = None, table: Optional[Mapping[int, ProcessInfo]] = None) -> List[int]:
    """Live (not zombie) children of `pid`, only those named `comm` if given."""
    table = processes() if table is None else table
    return [p.pid for p in table.values()
            if p.ppid == pid and p.state != "Z" and (comm is None or p.comm == comm)]


def descendants(pid: int, table: Optional[Mapping[int, ProcessInfo]] = None) -> List[int]:
    """Children, grandchildren, ... of `pid` (zombies too), nearest first."""
    table = processes() if table is None else table
    by_parent: Dict[int, List[int]] = {}
    for p in table.values():
        by_parent.setdefault(p.ppid, []).append(p.pid)
    found, i = [pid], 0
    while i < len(found):
        found.extend(by_parent.get(found[i], []))
        i += 1
    return found[1:]


def alive(pids: Sequence[int]) -> List[int]:
    """Those of `pids` that still run (zombies do not)."""
    table = processes()
    return [p for p in pids if p in table and table[p].state != "Z"]


def status(pid: int) -> Dict[str, str]:
    """/proc/PID/status as {field: value}; empty if the process is gone."""
    try:
        with open("/proc/{}/status".format(pid)) as f:
            return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}
    except OSError:
        return {}


def _kib(value: Optional[str]) -> int:
    return int(value.split()[0]) if value else 0


def rss_kib(pid: int) -> int:
    """Resident set size (VmRSS); 0 if the process is gone or a zombie."""
    return _kib(status(pid).get("VmRSS"))


def open_fds(pid: int) -> int:
    """How many file descriptors the process holds; 0 if it is gone."""
    try:
        return len(os.listdir("/proc/{}/fd".format(pid)))
    except OSError:
        return 0


# -- figures ----------------------------------------------------------------------------------

def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank `p` quantile (0 <= p <= 1) of `values`, which need not be sorted."""
    ordered = sorted(values)
    return ordered[round((len(ordered) - 1) * p)]


# -- the build --------------------------------------------------------------------------------

def target_dir(root: str = ROOT) -> str:
    """Where cargo puts what it builds in `root`: CARGO_TARGET_DIR if set, else root/target."""
    return os.path.join(root, os.environ.get("CARGO_TARGET_DIR") or "target")


def build(profile: str = "debug", *, package: str = "pyward", example: Optional[str] = None,
          quiet: bool = False, root: str = ROOT) -> str:
    """`cargo build` of `package` (or of one of its examples) in `root`, in the `debug` or
    `release` profile; the path of the binary. Fails (CalledProcessError) if the build does."""
    command = ["cargo", "build"] + (["-q"] if quiet else []) + (["--release"] if profile == "release" else [])
    command += ["-p", package] + (["--example", example] if example else [])
    subprocess.run(command, cwd=root, check=True)
    directory = os.path.join(target_dir(root), profile)
    return os.path.join(directory, "examples", example) if example else os.path.join(directory, package)
