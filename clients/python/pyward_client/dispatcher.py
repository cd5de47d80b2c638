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

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

if TYPE_CHECKING:
    from . import Client, PywardError

__all__ = ["Dispatcher", "Outcome"]


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

    async def start(self) -> None:
        """Learn the loaded modules' commands, and take their event and schedule host calls."""
        await self.refresh()
        if self.subscribe:
            await self.client.subscribe("*")

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

    async def handle(self, sender: str, text: str, *, chat: str, message_id: Optional[str] = None,
                     extra: Optional[Mapping[str, Any]] = None) -> Outcome:
        """Handle one chat message."""
        from . import PywardError

        event: Dict[str, Any] = {"chat": chat, "sender": sender, "sent_ms": int(time.time() * 1000)}
        if message_id is not None:
            event["message_id"] = message_id
        if extra:
            event.update(extra)
        if not text.startswith(self.prefix):
            if not self.forward_events:
                return Outcome("ignored")
            answer = await self.client.event(dict(event, type="message", text=text))
            return Outcome("event", delivered=answer.get("delivered", []))
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
