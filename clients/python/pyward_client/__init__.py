"""asyncio client for the pyward supervisor (docs/protocol.md).

    client = Client("/run/pyward/pyward.sock")

    @client.host("reply")
    async def reply(module, args, event):
        await chat.send(event["chat"], args["text"])

    await client.connect()
    await client.load("notes", source)
    result = await client.call_command("notes", "note", "add milk", user="@ann", event={...})

Only the standard library is used. Errors from the supervisor raise `PywardError`, whose
`reason` is the protocol's stable `data.reason` ("acl_denied", "rate_limited", ...).

A line from the supervisor longer than `line_limit` (keep it at least the policy's
`server.max_line_bytes`, which the supervisor never exceeds) fails only the request it answers,
with the reason "line_too_long"; other requests on the connection go on.
"""

import asyncio
import errno
import itertools
import json
import sys

__all__ = ["Client", "PywardError", "DEFAULT_SOCKET"]

DEFAULT_SOCKET = "/run/pyward/pyward.sock"

# How much of a line too long to keep is kept, to find out which request it answers.
_HEAD_BYTES = 4096
_READ_BYTES = 1 << 16


def _id_from_head(head):
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

    def __init__(self, code, message, data):
        super().__init__("{} ({})".format(message, (data or {}).get("reason", code)))
        self.code = code
        self.message = message
        self.data = data or {}
        self.reason = self.data.get("reason")


class Client:
    def __init__(self, path=DEFAULT_SOCKET, *, reconnect=True, backoff=(0.05, 5.0), line_limit=1 << 20):
        self.path = path
        self.reconnect = reconnect
        self.backoff = backoff
        self.line_limit = line_limit
        self._handlers = {}
        self._pending = {}
        self._ids = itertools.count(1)
        self._reader = self._writer = self._task = None
        self._lock = asyncio.Lock()

    # -- host calls ------------------------------------------------------------------------

    def host(self, name):
        """Register `async def handler(module, args, event)` for the host call `name`
        (reply, send_message, edit_message, kv_get, kv_set, kv_delete, log). Its return value
        (JSON) is what the module's function returns; an exception is reported to the module.
        `module` is the loaded module's name, or `run:NAME` for a one-shot run (whose key-value
        calls never reach the bot)."""

        def register(function):
            self._handlers[name] = function
            return function

        return register

    # -- connection ------------------------------------------------------------------------

    async def connect(self):
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
                break
            except OSError:
                if not self.reconnect or delay > limit:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    async def close(self):
        if self._task:
            self._task.cancel()
        if self._writer:
            self._writer.close()
        self._reader = self._writer = self._task = None

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def _send(self, message):
        self._writer.write((json.dumps(message) + "\n").encode())
        await self._writer.drain()

    async def _read_loop(self):
        """Split what the supervisor sends into lines of at most `line_limit` bytes. A longer
        line is dropped as it arrives (never held whole) and fails only the request it answers;
        a line that is not JSON is skipped. Either way the connection goes on."""
        reader = self._reader
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

    def _dispatch(self, line):
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

    def _too_long(self, head):
        self._unreadable(head, "an answer from the supervisor was longer than this client's line_limit ({} bytes) "
                               "and was dropped; raise Client(line_limit=...) to at least the policy's "
                               "server.max_line_bytes".format(self.line_limit), "line_too_long")

    def _unreadable(self, head, why, reason):
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

    async def _answer(self, message):
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

    async def request(self, method, params=None):
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
            error = message["error"]
            raise PywardError(error.get("code"), error.get("message", ""), error.get("data"))
        return message.get("result")

    # -- typed methods (docs/protocol.md) ---------------------------------------------------

    async def load(self, name, source, tier=None):
        params = {"name": name, "source": source}
        if tier:
            params["tier"] = tier
        return await self.request("module.load", params)

    async def unload(self, name):
        return await self.request("module.unload", {"name": name})

    async def modules(self):
        return await self.request("module.list")

    async def call_command(self, module, command, args="", *, user, event=None):
        params = {"module": module, "command": command, "args": args, "caller": {"user": user}}
        if event is not None:
            params["event"] = event
        return await self.request("module.call", params)

    async def call_function(self, module, function, args=None, *, user):
        return await self.request("module.call", {"module": module, "function": function,
                                                  "args": args if args is not None else [], "caller": {"user": user}})

    async def run(self, source, function, args=None, *, name=None, tier=None):
        params = {"source": source, "function": function, "args": args if args is not None else []}
        if name:
            params["name"] = name
        if tier:
            params["tier"] = tier
        return await self.request("run", params)

    async def grant(self, user, module, command=None, *, expires_in=None):
        params = {"user": user, "module": module}
        if command:
            params["command"] = command
        if expires_in is not None:
            params["expires_in_seconds"] = expires_in
        return await self.request("acl.grant", params)

    async def revoke(self, user, module, command=None):
        params = {"user": user, "module": module}
        if command:
            params["command"] = command
        return await self.request("acl.revoke", params)

    async def grants(self):
        return await self.request("acl.list")

    async def health(self):
        return await self.request("health")

    async def release(self, module):
        return await self.request("quarantine.release", {"module": module})

    async def reload_policy(self):
        return await self.request("policy.reload")

    async def audit(self, limit=100):
        return await self.request("audit.list", {"limit": limit})
