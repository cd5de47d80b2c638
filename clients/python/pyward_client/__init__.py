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
"""

import asyncio
import itertools
import json

__all__ = ["Client", "PywardError", "DEFAULT_SOCKET"]

DEFAULT_SOCKET = "/run/pyward/pyward.sock"


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
        (JSON) is what the module's function returns; an exception is reported to the module."""

        def register(function):
            self._handlers[name] = function
            return function

        return register

    # -- connection ------------------------------------------------------------------------

    async def connect(self):
        delay, limit = self.backoff
        while True:
            try:
                self._reader, self._writer = await asyncio.open_unix_connection(self.path, limit=self.line_limit)
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
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                message = json.loads(line)
                if message.get("method") == "host.call":
                    asyncio.get_running_loop().create_task(self._answer(message))
                    continue
                future = self._pending.pop(message.get("id"), None)
                if future and not future.done():
                    future.set_result(message)
        except asyncio.CancelledError:
            return
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the pyward supervisor closed the connection"))
            self._pending.clear()
            self._reader = None

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
