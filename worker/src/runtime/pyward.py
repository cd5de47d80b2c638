# The `pyward` module: a community module's only door to the outside. It runs with the same
# restricted builtins as modules do. Host functions the module's trust tier does not grant are
# removed when the module is loaded, so they simply do not exist for it.
import json as _json

_commands = {}
_SECURITY = ("owner", "sudo", "everyone")


# Something the sandbox refused (a host call, an import, a private attribute, an audit event).
SandboxViolation = _native.SandboxViolation


class OutputLimitExceeded(BaseException):
    """The module printed more than the policy allows."""


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


def _host(name, **args):
    status, payload = _native.host_call(name, _json.dumps(args))
    if status == "ok":
        return _json.loads(payload)
    if status == "denied":
        raise SandboxViolation(payload)
    raise RuntimeError("host call %s failed: %s" % (name, payload))


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
    """Read a value from this module's own key-value store."""
    value = _host("kv_get", key=str(key))
    return default if value is None else value


def kv_set(key, value):
    """Store a JSON-able value in this module's own key-value store."""
    return _host("kv_set", key=str(key), value=value)


def kv_delete(key):
    """Delete a key from this module's own key-value store."""
    return _host("kv_delete", key=str(key))


def log(message, level="info"):
    """Write a line to the bot's log, tagged with this module's name."""
    return _host("log", message=str(message), level=str(level))


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
