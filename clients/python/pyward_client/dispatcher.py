"""Chat messages to pyward calls, for a bot.

    client = Client(socket)
    dispatcher = Dispatcher(client, prefix=".", users={"@ann:example.org": "@owner"})
    await client.connect()
    await dispatcher.start()            # learns every module's commands, subscribes
    outcome = await dispatcher.handle("@ann:example.org", ".note add milk", chat="!room")
    if outcome.text:
        await room.send(outcome.text)

A message that starts with the prefix is a command, routed to the module that declares it
(`module.list`); `help` (and `help COMMAND`) is answered from what the modules declare. Any
other message is forwarded once as a `message` event (`module.event`) to the modules that asked
for it; their replies come as host calls, as for commands. `users` maps chat identities to the
ones the policy's ACL knows (owners, sudos, grants); an unmapped sender is passed as it is.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

if TYPE_CHECKING:
    from . import Client, PywardError

__all__ = ["Dispatcher", "Outcome", "load_refusal", "load_summary"]


@dataclass
class Outcome:
    """What handling one message did.

    kind: "reply" (a command answered; `text` is its string result, if any), "help",
    "unknown" (no module declares the command), "error" (the call failed: `error`),
    "event" (forwarded: `delivered` says per module what happened), "ignored" (not a command,
    and events are not forwarded)."""

    kind: str
    text: Optional[str] = None
    module: Optional[str] = None
    command: Optional[str] = None
    error: Optional["PywardError"] = None
    delivered: List[Dict[str, Any]] = field(default_factory=list)


class Dispatcher:
    def __init__(self, client: "Client", *, prefix: str = ".", users: Optional[Mapping[str, str]] = None,
                 forward_events: bool = True, subscribe: bool = True) -> None:
        if not prefix:
            raise ValueError("the command prefix must not be empty")
        self.client = client
        self.prefix = prefix
        self.users: Dict[str, str] = dict(users or {})
        self.forward_events = forward_events
        self.subscribe = subscribe
        # command name -> (module, declaration)
        self.commands: Dict[str, Tuple[str, Dict[str, Any]]] = {}
        # The client's connection count when this dispatcher last subscribed.
        self._subscribed_on: Optional[int] = None

    async def start(self) -> None:
        """Learn the loaded modules' commands, and take their event and schedule host calls."""
        await self.refresh()
        if self.subscribe:
            connection = self.client.connections
            await self.client.subscribe("*")
            self._subscribed_on = connection

    async def renew(self) -> bool:
        """After the client reconnected (the supervisor restarted, say), learn the commands and
        subscribe again: a subscription ends with its connection. Call it now and then (a bot's
        housekeeping loop); it does nothing while the connection is the one subscribed on.
        Returns whether it renewed."""
        if self.client.connected and self.client.connections == self._subscribed_on:
            return False
        await self.start()  # its first request reconnects, if the connection is down
        return True

    async def refresh(self) -> None:
        """Read the commands again (after a module was loaded or unloaded). When two modules
        declare the same command, the first by module name wins."""
        commands: Dict[str, Tuple[str, Dict[str, Any]]] = {}
        for module in sorted(await self.client.modules(), key=lambda m: m["name"]):
            for command in module.get("commands", []):
                commands.setdefault(command["name"], (module["name"], command))
        self.commands = commands

    def identity(self, sender: str) -> str:
        """The identity the policy's ACL knows for a chat sender."""
        return self.users.get(sender, sender)

    def help_text(self, command: Optional[str] = None) -> str:
        if command:
            found = self.commands.get(command)
            if found is None:
                return "unknown command {}{}".format(self.prefix, command)
            module, info = found
            return "{}{} ({}, {}): {}".format(self.prefix, command, module, info.get("security") or "default",
                                              info.get("help") or "no help")
        lines = ["{}{} — {}".format(self.prefix, name, info.get("help") or module)
                 for name, (module, info) in sorted(self.commands.items())]
        return "\n".join(lines) if lines else "no commands"

    @staticmethod
    def _event(sender: str, chat: str, message_id: Optional[str], extra: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        event: Dict[str, Any] = {"chat": chat, "sender": sender, "sent_ms": int(time.time() * 1000)}
        if message_id is not None:
            event["message_id"] = message_id
        if extra:
            event.update(extra)
        return event

    async def forward(self, kind: str, sender: str, *, chat: str, message_id: Optional[str] = None,
                      extra: Optional[Mapping[str, Any]] = None) -> Outcome:
        """Forward a chat event once to the modules that asked for its kind (`message` with its
        `text`, `join`, `leave`, `reaction`); their host calls come as for commands. "ignored"
        when this dispatcher does not forward events."""
        if not self.forward_events:
            return Outcome("ignored")
        answer = await self.client.event(dict(self._event(sender, chat, message_id, extra), type=kind))
        return Outcome("event", delivered=answer.get("delivered", []))

    async def handle(self, sender: str, text: str, *, chat: str, message_id: Optional[str] = None,
                     extra: Optional[Mapping[str, Any]] = None) -> Outcome:
        """Handle one chat message."""
        from . import PywardError

        if not text.startswith(self.prefix):
            return await self.forward("message", sender, chat=chat, message_id=message_id,
                                      extra=dict(extra or {}, text=text))
        event = self._event(sender, chat, message_id, extra)
        command, _, args = text[len(self.prefix):].partition(" ")
        if command == "help" and "help" not in self.commands:
            return Outcome("help", text=self.help_text(args.strip() or None), command="help")
        found = self.commands.get(command)
        if found is None:
            return Outcome("unknown", text="unknown command {}{}".format(self.prefix, command), command=command)
        module = found[0]
        try:
            result = await self.client.call_command(module, command, args, user=self.identity(sender), event=event)
        except PywardError as error:
            return Outcome("error", module=module, command=command, error=error)
        value = result.get("result")
        return Outcome("reply", text=value if isinstance(value, str) else None, module=module, command=command)

    def answer(self, outcome: Outcome, sender: str) -> Optional[str]:
        """What the chat should be told about a handled message: the reply, the help text, or
        why the command was refused or failed. None when there is nothing to say (an event
        forwarded, a command that returned no text)."""
        if outcome.kind == "error" and outcome.error is not None:
            error = outcome.error
            if error.reason == "acl_denied":
                denied = error.data.get("denied", {})
                if denied.get("reason") == "grant_expired":
                    return "{}, your permission for {}{} has expired".format(sender, self.prefix, outcome.command)
                return "{}, {}{} needs {} rights".format(sender, self.prefix, outcome.command,
                                                          denied.get("needs", "more"))
            return "{}{} failed ({}): {}".format(self.prefix, outcome.command, error.reason, error.message)
        if outcome.kind in ("reply", "help", "unknown"):
            return outcome.text
        return None


def load_refusal(name: str, error: "PywardError") -> List[str]:
    """Why loading a module was refused, as lines for a chat or a log: the reason, then each
    error the scanner found (line, rule, message), or the supervisor's message otherwise."""
    lines = ["refused to load {}: {}".format(name, error.reason)]
    findings = [f for f in error.data.get("findings", []) if isinstance(f, dict) and f.get("severity") == "error"]
    for finding in findings:
        lines.append("  line {}: [{}] {}".format(finding.get("line"), finding.get("rule"), finding.get("message")))
    if not findings:
        lines.append("  " + error.message)
    return lines


def load_summary(name: str, answer: Mapping[str, Any]) -> str:
    """One line on a `module.load` or `module.approve` answer: what now runs, or what waits for
    an admin's approval."""
    if answer.get("pending_approval"):
        widening = ", ".join(str(w) for w in answer.get("widening", [])) or "more than it had"
        return "{} waits for approval: it asks for {} (sha256 {}){}".format(
            name, widening, str(answer.get("source_sha256", ""))[:16],
            "; the older version keeps running" if answer.get("running") else "")
    commands = ", ".join(c.get("name", "?") for c in answer.get("commands", []) if isinstance(c, dict))
    return "loaded {} ({})".format(name, commands or "no commands")


async def load_directory(client: "Client", directory: str) -> List[Tuple[bool, List[str]]]:
    """Load every NAME.py of an operator's directory (in name order), approving what each asks
    for: the operator ships them with the bot. For each: whether it loaded, and the lines to
    show (`load_summary`'s, or `load_refusal`'s)."""
    from . import PywardError

    results: List[Tuple[bool, List[str]]] = []
    for filename in sorted(os.listdir(directory)):
        if not filename.endswith(".py"):
            continue
        name = filename[:-3]
        with open(os.path.join(directory, filename), encoding="utf-8") as f:
            source = f.read()
        try:
            loaded = await client.load(name, source, approve=True)
        except PywardError as error:
            results.append((False, load_refusal(name, error)))
            continue
        results.append((True, [load_summary(name, loaded)]))
    return results
