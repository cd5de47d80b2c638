"""asyncio client for the pyward supervisor (docs/protocol.md).

    client = Client("/run/pyward/pyward.sock")

    @client.host("reply")
    async def reply(module, args, event):
        await chat.send(event["chat"], args["text"])

    await client.connect()
    await client.load("notes", source)
    result = await client.call_command("notes", "note", "add milk", user="@ann", event={...})

For a chat bot, `Dispatcher` (pyward_client.dispatcher) turns chat messages into calls: the
command prefix, routing by each module's declared commands, `help`, a mapping of chat users to
the identities the policy's ACL knows, and forwarding of other messages as events.

Only the standard library is used. Errors from the supervisor raise `PywardError`, whose
`reason` is the protocol's stable `data.reason` ("acl_denied", "rate_limited", ...).

A line from the supervisor longer than `line_limit` (keep it at least the policy's
`server.max_line_bytes`, which the supervisor never exceeds) fails only the request it answers,
with the reason "line_too_long"; other requests on the connection go on.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import json
import sys
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

__all__ = ["Client", "PywardError", "DEFAULT_SOCKET", "HostHandler", "Dispatcher", "Outcome"]

#: `async def handler(module, args, event)` answering one kind of host call.
HostHandler = Callable[[str, Dict[str, Any], Optional[Dict[str, Any]]], Awaitable[Any]]

DEFAULT_SOCKET = "/run/pyward/pyward.sock"

# How much of a line too long to keep is kept, to find out which request it answers.
_HEAD_BYTES = 4096
_READ_BYTES = 1 << 16


def _id_from_head(head: bytes) -> Optional[Union[int, str]]:
    """The top-level "id" of a JSON object, from the start of its text (the rest of the line
    was dropped), or None. Only a number or a string is an id."""
    text = head.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    depth, i, expect_key = 0, 0, False
    while i < len(text):
        c = text[i]
        if c == '"':
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                return None  # cut off inside a string
            if depth == 1 and expect_key:
                j = end
                while j < len(text) and text[j] in " \t\r\n":
                    j += 1
                if text[j:j + 1] == ":":
                    expect_key = False
                    if value == "id":
                        j += 1
                        while j < len(text) and text[j] in " \t\r\n":
                            j += 1
                        try:
                            found, _ = decoder.raw_decode(text, j)
                        except ValueError:
                            return None
                        return found if isinstance(found, (int, str)) and not isinstance(found, bool) else None
                    i = j + 1
                    continue
            i = end
            continue
        if c in "{[":
            depth += 1
            expect_key = c == "{" and depth == 1
        elif c in "}]":
            depth -= 1
        elif c == "," and depth == 1:
            expect_key = True
        i += 1
    return None


class PywardError(Exception):
    """The supervisor refused or a call failed. `reason` is stable; `data` has the details."""

    def __init__(self, code: Optional[int], message: str, data: Optional[Dict[str, Any]]) -> None:
        super().__init__("{} ({})".format(message, (data or {}).get("reason", code)))
        self.code = code
        self.message = message
        self.data = data or {}
        self.reason = self.data.get("reason")


class Client:
    def __init__(self, path: str = DEFAULT_SOCKET, *, reconnect: bool = True,
                 backoff: "tuple[float, float]" = (0.05, 5.0), line_limit: int = 1 << 20) -> None:
        self.path = path
        self.reconnect = reconnect
        self.backoff = backoff
        self.line_limit = line_limit
        self._handlers: Dict[str, HostHandler] = {}
        self._pending: Dict[Any, "asyncio.Future[Dict[str, Any]]"] = {}
        self._ids = itertools.count(1)
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._task: Optional["asyncio.Task[None]"] = None
        self._lock = asyncio.Lock()
        #: How many times a connection was made (by `connect()`, or by a request reconnecting).
        #: A bot that subscribed compares it to the count it subscribed at: a new connection
        #: does not carry the subscription over (docs/protocol.md, `host.subscribe`).
        self.connections = 0

    # -- host calls ------------------------------------------------------------------------

    def host(self, name: str) -> Callable[[HostHandler], HostHandler]:
        """Register `async def handler(module, args, event)` for the host call `name`
        (reply, send_message, edit_message, send_file, log). Its return value (JSON) is what
        the module's function returns; an exception is reported to the module. `module` is the
        loaded module's name, or `run:NAME` for a one-shot run. A module's storage, config and
        schedules are kept by pyward: those calls never reach the bot. `send_file`'s args are
        `name`, `mime`, `size` and `data` (base64)."""

        def register(function: HostHandler) -> HostHandler:
            self._handlers[name] = function
            return function

        return register

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> None:
        delay, limit = self.backoff
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(self.path, limit=self.line_limit)
                try:
                    writer.get_extra_info("socket").getpeername()
                except OSError:
                    # asyncio takes a Unix socket's EAGAIN (the supervisor's backlog is full:
                    # it is busy, maybe refusing a peer in a loop) for a connection: try again.
                    writer.close()
                    raise BlockingIOError(errno.EAGAIN, "the supervisor's connection backlog is full")
                self._reader, self._writer = reader, writer
                self.connections += 1
                break
            except OSError:
                if not self.reconnect or delay > limit:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @property
    def connected(self) -> bool:
        """Whether the connection is up, as far as this client knows (it learns of a lost one
        when the supervisor closes it, or when a request fails)."""
        return self._reader is not None

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        if self._writer:
            self._writer.close()
        self._reader = None
        self._writer = None
        self._task = None

    async def __aenter__(self) -> "Client":
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(self, message: Dict[str, Any]) -> None:
        writer = self._writer
        if writer is None:
            raise ConnectionError("not connected to the pyward supervisor")
        writer.write((json.dumps(message) + "\n").encode())
        await writer.drain()

    async def _read_loop(self) -> None:
        """Split what the supervisor sends into lines of at most `line_limit` bytes. A longer
        line is dropped as it arrives (never held whole) and fails only the request it answers;
        a line that is not JSON is skipped. Either way the connection goes on."""
        reader = self._reader
        if reader is None:
            return
        buffer = bytearray()
        scanned = 0  # bytes of `buffer` known to hold no newline
        head = None  # the start of a line too long, while the rest of it is dropped
        try:
            while True:
                chunk = await reader.read(_READ_BYTES)
                if not chunk:
                    break
                buffer += chunk
                while True:
                    newline = buffer.find(b"\n", scanned)
                    if newline < 0:
                        if len(buffer) > self.line_limit:
                            if head is None:
                                head = bytes(buffer[:_HEAD_BYTES])
                            buffer.clear()
                        scanned = len(buffer)
                        break
                    line = bytes(buffer[:newline])
                    del buffer[:newline + 1]
                    scanned = 0
                    if head is not None or len(line) > self.line_limit:
                        self._too_long(head if head is not None else line[:_HEAD_BYTES])
                        head = None
                        continue
                    self._dispatch(line)
        except asyncio.CancelledError:
            return
        except OSError:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the pyward supervisor closed the connection"))
            self._pending.clear()
            self._reader = None

    def _dispatch(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError as error:
            self._unreadable(line[:_HEAD_BYTES], "a line from the supervisor is not JSON ({})".format(error),
                             "bad_line")
            return
        if not isinstance(message, dict):
            return
        if message.get("method") == "host.call":
            asyncio.get_running_loop().create_task(self._answer(message))
            return
        future = self._pending.pop(message.get("id"), None)
        if future and not future.done():
            future.set_result(message)

    def _too_long(self, head: bytes) -> None:
        self._unreadable(head, "an answer from the supervisor was longer than this client's line_limit ({} bytes) "
                               "and was dropped; raise Client(line_limit=...) to at least the policy's "
                               "server.max_line_bytes".format(self.line_limit), "line_too_long")

    def _unreadable(self, head: bytes, why: str, reason: str) -> None:
        """A line that could not be read: fail the request it answers (found by the id at its
        start), or refuse the host call it carries, so that nobody waits for it."""
        request_id = _id_from_head(head)
        future = self._pending.pop(request_id, None) if request_id is not None else None
        if future is not None:
            if not future.done():
                future.set_result({"id": request_id, "error": {"code": None, "message": why,
                                                               "data": {"reason": reason, "limit": self.line_limit}}})
            return
        if request_id is not None and b'"host.call"' in head:
            reply = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32000, "message": "the bot could not read "
                     "this host call: " + why}}
            asyncio.get_running_loop().create_task(self._send(reply))
            return
        print("pyward_client: {}".format(why), file=sys.stderr)

    async def _answer(self, message: Dict[str, Any]) -> None:
        params = message.get("params", {})
        handler = self._handlers.get(params.get("call"))
        if handler is None:
            reply = {"jsonrpc": "2.0", "id": message["id"],
                     "error": {"code": -32000, "message": "this bot does not handle {}".format(params.get("call"))}}
        else:
            try:
                result = await handler(params.get("module"), params.get("args", {}), params.get("event"))
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
            except Exception as error:  # the module sees the failure, the bot keeps running
                reply = {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32000, "message": str(error)}}
        await self._send(reply)

    # -- requests --------------------------------------------------------------------------

    async def request(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """One JSON-RPC request; returns `result` or raises PywardError. Reconnects (with
        backoff) if the connection was lost."""
        async with self._lock:
            if self._reader is None:
                await self.connect()
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        except OSError as error:
            # The connection died under us: forget it, so that the next request reconnects.
            self._pending.pop(request_id, None)
            self._reader = None
            raise ConnectionError("the pyward supervisor closed the connection") from error
        message = await future
        if "error" in message:
            failure = message["error"]
            raise PywardError(failure.get("code"), failure.get("message", ""), failure.get("data"))
        return message.get("result")

    async def _object(self, method: str, params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """A request whose result is a JSON object (docs/protocol.md)."""
        result = await self.request(method, params)
        if not isinstance(result, dict):
            raise PywardError(None, "{} answered {} where the protocol says an object".format(
                method, type(result).__name__), {"reason": "bad_answer"})
        return result

    async def _list(self, method: str, params: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """A request whose result is a JSON array of objects (docs/protocol.md)."""
        result = await self.request(method, params)
        if not isinstance(result, list):
            raise PywardError(None, "{} answered {} where the protocol says an array".format(
                method, type(result).__name__), {"reason": "bad_answer"})
        return result

    # -- typed methods (docs/protocol.md) ---------------------------------------------------

    async def load(self, name: str, source: str, tier: Optional[str] = None, *,
                   approve: bool = False) -> Dict[str, Any]:
        """Load (or replace) a module. A version asking for more than the baseline and any
        earlier approval answers `{"pending_approval": True, ...}` and waits for `approve()`,
        unless `approve=True` approves it now (admins only)."""
        params: Dict[str, Any] = {"name": name, "source": source}
        if tier:
            params["tier"] = tier
        if approve:
            params["approve"] = True
        return await self._object("module.load", params)

    async def approve(self, name: str, source_sha256: Optional[str] = None) -> Dict[str, Any]:
        """Approve the version of `name` waiting for approval (exactly the one with this hash,
        if given) and run it."""
        params: Dict[str, Any] = {"name": name}
        if source_sha256:
            params["source_sha256"] = source_sha256
        return await self._object("module.approve", params)

    async def pending(self) -> List[Dict[str, Any]]:
        """Versions waiting for approval, with what they ask for beyond what runs."""
        return await self._list("module.pending")

    async def configure(self, name: str, values: Mapping[str, Any], *,
                        secret: Iterable[str] = ()) -> Dict[str, Any]:
        """Set config values (`None` removes one); keys in `secret` are never shown again."""
        return await self._object("module.configure", {"name": name, "values": dict(values),
                                                        "secret": list(secret)})

    async def unload(self, name: str, *, purge: bool = False) -> Dict[str, Any]:
        """Unload a module; `purge=True` also forgets its storage, config and approval."""
        params: Dict[str, Any] = {"name": name}
        if purge:
            params["purge"] = True
        return await self._object("module.unload", params)

    async def modules(self) -> List[Dict[str, Any]]:
        return await self._list("module.list")

    async def call_command(self, module: str, command: str, args: str = "", *, user: str,
                           event: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        params: Dict[str, Any] = {"module": module, "command": command, "args": args, "caller": {"user": user}}
        if event is not None:
            params["event"] = event
        return await self._object("module.call", params)

    async def call_function(self, module: str, function: str, args: Any = None, *,
                            user: str) -> Dict[str, Any]:
        return await self._object("module.call", {"module": module, "function": function,
                                                  "args": args if args is not None else [], "caller": {"user": user}})

    async def event(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """Forward a chat event (`{"type": "message", "chat", "sender", "text", ...}`) once;
        pyward delivers it to every module that asked for it. The answer says per module what
        happened: `{"delivered": [{"module", "ok", "result" | "error"}]}`."""
        return await self._object("module.event", {"event": event})

    async def subscribe(self, modules: Union[str, Sequence[str]] = "*") -> Dict[str, Any]:
        """Get the host calls of these modules' events and schedules on this connection
        (`"*"`: every module). Reconnecting does not renew it: call it again."""
        return await self._object("host.subscribe", {"modules": modules if isinstance(modules, str) else list(modules)})

    async def run(self, source: str, function: str, args: Any = None, *, name: Optional[str] = None,
                  tier: Optional[str] = None) -> Dict[str, Any]:
        params: Dict[str, Any] = {"source": source, "function": function, "args": args if args is not None else []}
        if name:
            params["name"] = name
        if tier:
            params["tier"] = tier
        return await self._object("run", params)

    async def grant(self, user: str, module: str, command: Optional[str] = None, *,
                    expires_in: Optional[float] = None) -> Dict[str, Any]:
        params: Dict[str, Any] = {"user": user, "module": module}
        if command:
            params["command"] = command
        if expires_in is not None:
            params["expires_in_seconds"] = expires_in
        return await self._object("acl.grant", params)

    async def revoke(self, user: str, module: str, command: Optional[str] = None) -> Dict[str, Any]:
        params: Dict[str, Any] = {"user": user, "module": module}
        if command:
            params["command"] = command
        return await self._object("acl.revoke", params)

    async def grants(self) -> List[Dict[str, Any]]:
        return await self._list("acl.list")

    async def health(self) -> Dict[str, Any]:
        return await self._object("health")

    async def release(self, module: str) -> Dict[str, Any]:
        return await self._object("quarantine.release", {"module": module})

    async def reload_policy(self) -> Dict[str, Any]:
        return await self._object("policy.reload")

    async def audit(self, limit: int = 100) -> List[Dict[str, Any]]:
        return await self._list("audit.list", {"limit": limit})


from .dispatcher import Dispatcher, Outcome  # noqa: E402  (it uses Client and PywardError)
