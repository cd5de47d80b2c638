# The `pyward` module: a community module's only door to the outside. It runs with the same
# restricted builtins as modules do. Host functions the module's trust tier does not grant are
# removed when the module is loaded, so they simply do not exist for it.
import json as _json

_commands = {}
_events = {}
_every = {}
_SECURITY = ("owner", "sudo", "everyone")
# The events a chat may send, as the policy knows them (KNOWN_EVENTS): one list for both.
_EVENTS = tuple(_native.config()["known_events"])


# Something the sandbox refused (a host call, an import, a private attribute, an audit event).
SandboxViolation = _native.SandboxViolation


class OutputLimitExceeded(BaseException):
    """The module printed more than the policy allows."""


class BudgetExceeded(Exception):
    """A quota or size limit of the policy refused a host call (storage full, a value or a file
    too large, too many pending schedules). Nothing was changed; the module may catch it."""


def manifest(**capabilities):
    """Declare what the module needs: `pyward.manifest(host_calls=[...], storage_kb=...,
    config=[...], events=[...], schedules=True, http=[...])`, once, at module level, with
    constants only. pyward reads it from the source before the module runs; at run time this
    does nothing."""
    return None


def on(event):
    """Handle a chat event the bot forwards (`@pyward.on("message")`): called as
    `handler(event)`. The manifest must ask for the event (`events=["message"]`)."""
    if event not in _EVENTS:
        raise ValueError("unknown event %r; known: %s" % (event, ", ".join(_EVENTS)))

    def register(function):
        _events.setdefault(event, []).append(function)
        return function

    return register


def every(seconds):
    """Run the decorated function every `seconds` seconds (`@pyward.every(3600)`), called
    without arguments. The manifest must say `schedules=True`."""
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
        raise ValueError("every() takes a whole number of seconds, at least 1")

    def register(function):
        name = function.__name__
        if name in _every:
            raise ValueError("two periodic handlers are named %r" % name)
        _every[name] = (function, seconds)
        return function

    return register


def command(name, security=None, help=""):
    """Declare a command: `@pyward.command("ping", security="everyone", help="...")`.
    The handler is called as `handler(event, args)`; a returned string is the reply."""
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ValueError("a command name is a non-empty string of at most 64 characters")
    if security is not None and security not in _SECURITY:
        raise ValueError("security must be one of owner, sudo, everyone")

    def register(function):
        _commands[name] = {"function": function, "security": security, "help": str(help)}
        return function

    return register


def _host(_call, **args):
    status, payload = _native.host_call(_call, _json.dumps(args))
    if status == "ok":
        return _json.loads(payload)
    if status == "denied":
        raise SandboxViolation(payload)
    if status == "budget":
        raise BudgetExceeded(payload)
    if status == "invalid":
        raise ValueError(payload)
    raise RuntimeError("host call %s failed: %s" % (_call, payload))


def reply(text):
    """Reply to the message that triggered the current command."""
    return _host("reply", text=str(text))


def send_message(chat, text):
    """Send a message to a chat."""
    return _host("send_message", chat=str(chat), text=str(text))


def edit_message(message_id, text):
    """Edit a message the bot sent."""
    return _host("edit_message", message_id=str(message_id), text=str(text))


def kv_get(key, default=None):
    """Read a value from this module's own key-value store (kept by pyward)."""
    value = _host("kv_get", key=str(key))
    return default if value is None else value


def kv_set(key, value):
    """Store a JSON-able value in this module's own key-value store. Durable once it returns;
    raises BudgetExceeded (nothing changed) when over the module's quota."""
    return _host("kv_set", key=str(key), value=value)


def kv_delete(key):
    """Delete a key from this module's own key-value store. True if it was there."""
    return _host("kv_delete", key=str(key))


def kv_keys(prefix=""):
    """The keys of this module's store that start with `prefix`, sorted."""
    return _host("kv_keys", prefix=str(prefix))


def config(key, default=None):
    """A value the bot's admin set for this module (`module.configure`); the manifest must
    declare the key (`config=["api_key"]`)."""
    value = _host("config", key=str(key))
    return default if value is None else value


def schedule_at(unix_ms, name, payload=None):
    """Call the module-level function `name` once, as `name(payload)`, at `unix_ms`
    (milliseconds since the epoch). Kept by pyward across restarts. Returns its id."""
    if isinstance(unix_ms, bool) or not isinstance(unix_ms, (int, float)):
        raise ValueError("unix_ms must be a number of milliseconds since the epoch")
    return _host("schedule_at", unix_ms=int(unix_ms), name=str(name), payload=payload)


def cancel_schedule(name):
    """Cancel every pending one-off run of `name`. Returns how many there were."""
    return _host("cancel_schedule", name=str(name))


def send_file(name, data, mime="application/octet-stream"):
    """Send a file (bytes, or text as UTF-8) to the chat of the current event."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, bytes):
        raise TypeError("send_file() takes bytes or str data")
    encoded = _b64encode(data, newline=False).decode("ascii")
    return _host("send_file", name=str(name), mime=str(mime), data=encoded, size=len(data))


def log(message, level="info"):
    """Write a line to the bot's log, tagged with this module's name."""
    return _host("log", message=str(message), level=str(level))


class HttpError(Exception):
    """A brokered HTTP request failed on the way (no answer in time, connection refused, a TLS
    error, ...). A request the policy refuses raises SandboxViolation instead."""


class HttpResponse:
    """What `pyward.http.request` returns: `status` (int), `headers` (dict, lowercase names;
    repeated headers joined with ", "), `body` (bytes), `url` (after redirects); `text` and
    `json()` decode the body."""

    __slots__ = ("status", "headers", "body", "url")

    def __init__(self, status, headers, body, url):
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return _json.loads(self.body)

    def __getitem__(self, key):
        # Also readable as a dict: response["status"], response["body"].
        if key in HttpResponse.__slots__ or key == "text":
            return getattr(self, key)
        raise KeyError(key)

    def __repr__(self):
        return "<HttpResponse %d %s, %d bytes>" % (self.status, self.url, len(self.body))


def http_request(method, url, headers=None, body=None, timeout=None):
    """Make an HTTP request through the supervisor (see `http.request`)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body is not None and not isinstance(body, bytes):
        raise TypeError("body must be str, bytes or None")
    if headers is None:
        headers = {}
    if isinstance(headers, dict):
        headers = list(headers.items())
    pairs = [[str(k), str(v)] for k, v in headers]
    args = {"method": str(method), "url": str(url), "headers": pairs}
    if body is not None:
        # Bytes travel as a JSON string of code points 0-255, one per byte.
        args["body"] = bytes(body).decode("latin-1")
    if timeout is not None:
        args["timeout_ms"] = max(1, int(float(timeout) * 1000))
    status, payload = _native.host_call("http_request", _json.dumps(args))
    if status == "denied":
        raise SandboxViolation(payload)
    if status != "ok":
        raise HttpError(payload)
    answer = _json.loads(payload)
    merged = {}
    for name, value in answer["headers"]:
        merged[name] = merged[name] + ", " + value if name in merged else value
    return HttpResponse(answer["status"], merged, answer["body"].encode("latin-1"), answer["url"])


class _Http:
    """`pyward.http`: brokered HTTP, to the hosts the policy lets this module's tier reach."""

    __slots__ = ()
    Error = HttpError
    Response = HttpResponse

    def request(self, method, url, headers=None, body=None, timeout=None):
        """`request(method, url, headers=None, body=None, timeout=None)` -> HttpResponse.
        `headers`: dict or list of pairs; `body`: str (sent as UTF-8) or bytes; `timeout`:
        seconds (the policy's http.timeout_ms is the most). Refused by the policy:
        SandboxViolation naming the rule; failed on the way: pyward.http.Error."""
        return http_request(method, url, headers, body, timeout)

    def get(self, url, headers=None, timeout=None):
        return http_request("GET", url, headers, None, timeout)

    def post(self, url, body=None, headers=None, timeout=None):
        return http_request("POST", url, headers, body, timeout)


http = _Http()


class _Stdout:
    """Where print() goes: a bounded buffer returned with the call's result."""

    def write(self, text):
        if not _native.write(str(text)):
            raise OutputLimitExceeded("the module's output is over the policy's limit")
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


_stdout = _Stdout()
