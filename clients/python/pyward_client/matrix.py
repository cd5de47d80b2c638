"""A Matrix host bot for pyward: one Matrix account, the modules pyward runs.

    pip install './clients/python[matrix]'
    PYWARD_MATRIX_TOKEN=... python -m pyward_client.matrix --homeserver https://matrix.example.org \\
        --owner @you:example.org --socket /run/pyward/pyward.sock --modules ./modules

Built on mautrix (the `matrix` extra) and the client's `Dispatcher`: a message that starts with
the prefix is a command for the module that declares it, with the sender's Matrix ID as the
identity pyward's ACL judges, the room as `chat` and the event ID as `message_id`; any other
message, and joins, leaves and reactions, are forwarded as events to the modules that asked for
them. The modules' host calls become Matrix messages: `reply` (an `m.notice` in reply to the
message), `send_message`, `edit_message` (an `m.replace` of a message this bot sent), `send_file`
(an `m.file` upload); their events and schedules arrive on the same connection.

The bot never answers itself or notices (other bots), never runs an edited command again, and
never handles what was said before it started or before it joined a room: its first sync (a
fresh one) is read for pending invites only (an owner's are accepted), and the history a room
it just joined comes with is dropped, so a restart replays nothing. Owner commands, reserved to the `--owner` Matrix IDs, change what pyward
runs (the bot's socket role must be `admin` for them):

    .load NAME [TIER]       with the module in a ``` code block in the same message, or as a
                            reply to a message with an attached NAME.py (or as that file's caption)
    .approve NAME [SHA256]  run the version that waits for approval
    .unload NAME            .pending   .modules
    .grant USER MODULE [COMMAND] [SECONDS]      .revoke USER MODULE [COMMAND]

A module the scanner rejects is reported with each finding's line and rule: to the owner who
sent `.load`, or, for the `--modules` directory loaded at start, in the `--notify-room`.

The access token comes from `--token-file` or the PYWARD_MATRIX_TOKEN environment variable, never
from the command line. End-to-end encryption is not supported: the bot reads and writes
unencrypted rooms only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import logging
import os
import re
import signal
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Literal, Mapping, Optional, Sequence, Set

from mautrix.client import Client as MatrixClient
from mautrix.client.syncer import InternalEventType, SyncStream
from mautrix.errors import MatrixError
from mautrix.types import (
    ContentURI,
    Event,
    EventID,
    EventType,
    FileInfo,
    FilterID,
    MediaMessageEventContent,
    Membership,
    MessageEvent,
    MessageType,
    ReactionEvent,
    RelationType,
    RoomID,
    StateEvent,
    SyncToken,
    TextMessageEventContent,
    UserID,
)

from . import DEFAULT_SOCKET, Client, PywardError
from .dispatcher import Dispatcher, Outcome, load_directory, load_refusal, load_summary

__all__ = ["MatrixBot", "MatrixBotConfig", "OWNER_COMMANDS", "main"]

log = logging.getLogger("pyward.matrix")

#: Commands the bot answers itself, for its owners only; they win over a module's command of
#: the same name.
OWNER_COMMANDS = ("load", "approve", "unload", "pending", "modules", "grant", "revoke")

#: A module sent in a message: the first ``` block (optionally ```python / ```py).
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL)

# The catch-up sync needs the rooms the bot is invited to, not their history.
_CATCH_UP_FILTER = '{"room": {"timeline": {"limit": 1}}, "presence": {"not_types": ["*"]}}'

# How many of the messages it sent the bot remembers (for `edit_message`).
_SENT_REMEMBERED = 4096

_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
               "error": logging.ERROR}


@dataclass(frozen=True)
class MatrixBotConfig:
    """What the bot is told. `owners` are Matrix IDs; `invites` says whose room invitations it
    accepts ("owners" or "anyone")."""

    homeserver: str
    access_token: str
    owners: FrozenSet[str]
    socket: str = DEFAULT_SOCKET
    prefix: str = "."
    modules_dir: Optional[str] = None
    notify_room: Optional[str] = None
    invites: Literal["owners", "anyone"] = "owners"
    #: Matrix ID -> the identity pyward's policy knows (unmapped IDs are passed as they are).
    users: Mapping[str, str] = field(default_factory=dict)
    #: The largest module source `.load` downloads from an attachment.
    max_module_bytes: int = 1 << 20


class _Refused(Exception):
    """An owner command that cannot be done; the message is said in the room."""


class MatrixBot:
    """One Matrix account connected to pyward. `await bot.start()` connects both sides and
    returns once the bot listens; `await bot.stop()` ends it."""

    def __init__(self, config: MatrixBotConfig, *, pyward: Optional[Client] = None) -> None:
        self.config = config
        self.pyward = pyward or Client(config.socket)
        self.dispatcher = Dispatcher(self.pyward, prefix=config.prefix, users=config.users)
        self.matrix = MatrixClient(base_url=config.homeserver, token=config.access_token)
        self.user_id: UserID = UserID("")
        #: Set when the bot cannot go on: Matrix stopped syncing (a revoked token, say).
        self.finished = asyncio.Event()
        self.failure: Optional[BaseException] = None
        self._stopping = False
        self._sent: "OrderedDict[str, RoomID]" = OrderedDict()
        self._encrypted_rooms: Set[RoomID] = set()
        self._housekeeping: Optional["asyncio.Task[None]"] = None
        for name, handler in (("reply", self._reply), ("send_message", self._send_message),
                              ("edit_message", self._edit_message), ("send_file", self._send_file),
                              ("log", self._log)):
            self.pyward.host(name)(handler)

    # -- start and stop --------------------------------------------------------------------

    async def start(self) -> None:
        whoami = await self.matrix.whoami()
        self.user_id = whoami.user_id
        self.matrix.mxid = whoami.user_id
        if whoami.device_id:
            self.matrix.device_id = whoami.device_id
        await self.pyward.connect()
        reports: List[str] = []
        if self.config.modules_dir:
            reports = await self._load_directory(self.config.modules_dir)
        await self.dispatcher.start()
        await self._catch_up()
        self.matrix.add_event_handler(InternalEventType.SYNC_SUCCESSFUL, self._on_sync)
        self.matrix.add_event_handler(InternalEventType.SYNC_STOPPED, self._on_sync_stopped)
        self.matrix.add_event_handler(EventType.ROOM_MESSAGE, self._on_message)
        self.matrix.add_event_handler(EventType.ROOM_MEMBER, self._on_invite, sync_stream=SyncStream.INVITED_ROOM)
        self.matrix.add_event_handler(EventType.ROOM_MEMBER, self._on_member, sync_stream=SyncStream.TIMELINE)
        self.matrix.add_event_handler(EventType.REACTION, self._on_reaction)
        self.matrix.add_event_handler(EventType.ROOM_ENCRYPTED, self._on_encrypted)
        self.matrix.start(None)  # from where _catch_up left off
        if reports:
            await self._notify("\n".join(reports))
        self._housekeeping = asyncio.get_running_loop().create_task(self._keep_subscribed())
        log.info("ready as %s (%d commands, prefix %r)", self.user_id, len(self.dispatcher.commands),
                 self.config.prefix)

    async def stop(self) -> None:
        self._stopping = True
        if self._housekeeping:
            self._housekeeping.cancel()
        self.matrix.stop()
        await self.pyward.close()
        await self.matrix.api.session.close()

    async def _load_directory(self, directory: str) -> List[str]:
        """Load every NAME.py of the operator's directory, approving what each asks for (the
        operator ships them with the bot). Returns what the owners should hear: the refusals."""
        reports: List[str] = []
        for loaded, lines in await load_directory(self.pyward, directory):
            if loaded:
                log.info("%s", "\n".join(lines))
            else:
                log.warning("%s", "\n".join(lines))
                reports.extend(lines)
        return reports

    async def _notify(self, text: str) -> None:
        """Tell the owners something that answers no message (a module refused at start)."""
        if not self.config.notify_room:
            log.warning("no --notify-room to tell the owners: %s", text)
            return
        try:
            await self._send(RoomID(self.config.notify_room), text)
        except MatrixError as error:
            log.warning("could not tell the owners in %s (%s): %s", self.config.notify_room, error, text)

    async def _keep_subscribed(self) -> None:
        """A new connection to pyward (the supervisor restarted) needs a new subscription, or
        the modules' events and schedules would have no bot to talk to."""
        failing = False
        while True:
            await asyncio.sleep(1.0)
            try:
                if await self.dispatcher.renew():
                    log.info("connected to pyward again; %d commands", len(self.dispatcher.commands))
                failing = False
            except (OSError, PywardError) as error:
                if not failing:
                    log.warning("pyward is not reachable at %s: %s", self.config.socket, error)
                failing = True

    # -- Matrix to pyward ------------------------------------------------------------------

    async def _catch_up(self) -> None:
        """Find where "now" is, so that nothing said before the bot started is handled: one
        initial sync, read for pending invites only (an owner's are accepted); the sync loop
        goes on from its position.

        Synapse keeps a /sync answer for two minutes (`caches.sync_response_cache_duration`),
        keyed by the request's parameters: a bot restarted within that time would be handed the
        answer its previous run got, and its stale position would replay everything said since.
        An initial sync is answered at once whatever its `timeout`, so a timeout no other start
        within two minutes uses (the millisecond within the hour) makes the request a new one."""
        timeout = int(time.time() * 1000) % 3_600_000
        data = await self.matrix.sync(timeout=timeout, filter_id=FilterID(_CATCH_UP_FILTER))
        for room_id, room in data.get("rooms", {}).get("invite", {}).items():
            for raw in room.get("invite_state", {}).get("events", []):
                if (raw.get("type") == "m.room.member" and raw.get("state_key") == self.user_id
                        and raw.get("content", {}).get("membership") == "invite"):
                    await self._invited(RoomID(room_id), UserID(raw.get("sender", "")))
        await self.matrix.sync_store.put_next_batch(SyncToken(data["next_batch"]))

    async def _on_sync(self, data: Any) -> None:
        """Before a sync's events are handled: a room the bot has just joined comes with the
        history from before it joined; that history is dropped (it was said before the bot
        was there, and a restart must not replay it either)."""
        sync = data.get("data", {}) if isinstance(data, dict) else {}
        for room in sync.get("rooms", {}).get("join", {}).values():
            timeline = room.get("timeline", {})
            events = timeline.get("events", [])
            for index in range(len(events) - 1, -1, -1):
                event = events[index]
                if (event.get("type") == "m.room.member" and event.get("state_key") == self.user_id
                        and event.get("content", {}).get("membership") == "join"
                        and event.get("unsigned", {}).get("prev_content", {}).get("membership") != "join"):
                    timeline["events"] = events[index + 1:]
                    break

    async def _on_sync_stopped(self, data: Any) -> None:
        if self._stopping:
            return
        error = data.get("error") if isinstance(data, dict) else None
        self.failure = error if isinstance(error, BaseException) else None
        log.error("syncing with %s stopped: %s", self.config.homeserver, self.failure)
        self.finished.set()

    async def _invited(self, room_id: RoomID, inviter: UserID) -> None:
        if self.config.invites == "owners" and inviter not in self.config.owners:
            log.info("not joining %s: invited by %s, who is no owner", room_id, inviter)
            return
        try:
            await self.matrix.join_room_by_id(room_id)
            log.info("joined %s (invited by %s)", room_id, inviter)
        except MatrixError as error:
            log.warning("could not join %s: %s", room_id, error)

    async def _on_invite(self, evt: Event) -> None:
        """An invitation (the invite section of a sync): accepted from an owner."""
        if (isinstance(evt, StateEvent) and evt.state_key == self.user_id
                and getattr(evt.content, "membership", None) == Membership.INVITE):
            await self._invited(evt.room_id, evt.sender)

    async def _on_member(self, evt: Event) -> None:
        """Someone joined or left a room the bot is in: a `join` or `leave` event for pyward."""
        if not isinstance(evt, StateEvent) or evt.state_key == self.user_id:
            return
        membership = getattr(evt.content, "membership", None)
        prev = getattr(evt.prev_content, "membership", None) if evt.prev_content else None
        if membership == Membership.JOIN and prev != Membership.JOIN:
            kind = "join"
        elif membership in (Membership.LEAVE, Membership.BAN) and prev == Membership.JOIN:
            kind = "leave"
        else:
            return  # a profile change, an invite, a knock
        await self._forward(kind, evt.state_key, evt.room_id, evt.event_id, {"by": evt.sender})

    async def _on_reaction(self, evt: Event) -> None:
        if not isinstance(evt, ReactionEvent) or evt.sender == self.user_id:
            return
        relates = evt.content.relates_to
        if relates.rel_type != RelationType.ANNOTATION or not relates.event_id:
            return
        await self._forward("reaction", evt.sender, evt.room_id, evt.event_id,
                            {"target": relates.event_id, "key": relates.key or ""})

    async def _forward(self, kind: str, sender: str, room_id: RoomID, event_id: EventID,
                       extra: Dict[str, Any]) -> None:
        try:
            outcome = await self.dispatcher.forward(kind, sender, chat=room_id, message_id=event_id, extra=extra)
        except (OSError, PywardError) as error:
            log.warning("could not forward a %s event to pyward: %s", kind, error)
            return
        self._log_deliveries(outcome)

    async def _on_encrypted(self, evt: Event) -> None:
        room_id = getattr(evt, "room_id", None)
        if room_id and room_id not in self._encrypted_rooms:
            self._encrypted_rooms.add(room_id)
            log.warning("%s is encrypted: this bot reads unencrypted rooms only, and ignores it", room_id)

    async def _on_message(self, evt: Event) -> None:
        if not isinstance(evt, MessageEvent) or evt.sender == self.user_id:
            return
        content = evt.content
        if not isinstance(content, TextMessageEventContent) or content.get_edit():
            return  # an edit is not a new message: it is not run again
        attachment: Optional[MediaMessageEventContent] = None
        if content.msgtype == MessageType.TEXT:
            content.trim_reply_fallback()
            text = content.body
        elif content.msgtype == MessageType.FILE and isinstance(content, MediaMessageEventContent):
            if not content.filename or content.filename == content.body:
                return  # a file without a caption: nothing to run
            attachment, text = content, content.body
        else:
            return  # notices (other bots), emotes, images...
        try:
            await self._handle(evt, text, attachment)
        except (OSError, PywardError) as error:
            log.warning("could not handle %s from %s: %s", evt.event_id, evt.sender, error)
            await self._reply_to(evt, "pyward is not reachable right now; try again later")

    async def _handle(self, evt: MessageEvent, text: str, attachment: Optional[MediaMessageEventContent]) -> None:
        prefix = self.config.prefix
        if text.startswith(prefix):
            command, _, args = text[len(prefix):].partition(" ")
            command = command.split("\n", 1)[0]
            if command in OWNER_COMMANDS:
                if evt.sender not in self.config.owners:
                    await self._reply_to(evt, "{}, {}{} is for the bot's owners".format(evt.sender, prefix, command))
                    return
                try:
                    answer = await self._owner_command(evt, command, text[len(prefix) + len(command):], attachment)
                except _Refused as refused:
                    answer = str(refused)
                except PywardError as error:
                    answer = "{}{} failed ({}): {}".format(prefix, command, error.reason, error.message)
                except MatrixError as error:
                    answer = "{}{} failed: {}".format(prefix, command, error)
                await self._reply_to(evt, answer)
                return
        extra = {"reply_to": evt.content.get_reply_to()} if evt.content.get_reply_to() else None
        outcome = await self.dispatcher.handle(evt.sender, text, chat=evt.room_id, message_id=evt.event_id,
                                               extra=extra)
        self._log_deliveries(outcome)
        said = self.dispatcher.answer(outcome, evt.sender)
        if said:
            await self._reply_to(evt, said)

    def _log_deliveries(self, outcome: Outcome) -> None:
        for delivery in outcome.delivered:
            if not delivery.get("ok"):
                log.warning("event to %s failed: %s", delivery.get("module"),
                            delivery.get("error", {}).get("message"))

    # -- owner commands --------------------------------------------------------------------

    async def _owner_command(self, evt: MessageEvent, command: str, rest: str,
                             attachment: Optional[MediaMessageEventContent]) -> str:
        words = rest.split("\n", 1)[0].split()
        if command == "load":
            return await self._load(evt, words, rest, attachment)
        if command == "approve":
            if not 1 <= len(words) <= 2:
                raise _Refused("usage: {}approve NAME [SHA256]".format(self.config.prefix))
            answer = await self.pyward.approve(words[0], words[1] if len(words) > 1 else None)
            await self.dispatcher.refresh()
            return load_summary(words[0], answer)
        if command == "unload":
            if len(words) != 1:
                raise _Refused("usage: {}unload NAME".format(self.config.prefix))
            await self.pyward.unload(words[0])
            await self.dispatcher.refresh()
            return "unloaded {} (its storage is kept)".format(words[0])
        if command == "pending":
            waiting = await self.pyward.pending()
            return "\n".join("{} ({}): {}".format(p.get("name"), str(p.get("source_sha256", ""))[:16],
                                                  ", ".join(str(w) for w in p.get("widening", [])))
                             for p in waiting) or "nothing waits for approval"
        if command == "modules":
            lines = []
            for module in await self.pyward.modules():
                health = module.get("health", {})
                lines.append("{} [{}] {} — score {:.0f}{}".format(
                    module.get("name"), module.get("tier"),
                    ", ".join(c.get("name", "?") for c in module.get("commands", [])) or "no commands",
                    health.get("score", 0), ", QUARANTINED" if health.get("quarantined") else ""))
            return "\n".join(lines) or "no modules"
        if command == "grant":
            seconds: Optional[float] = None
            if len(words) >= 3 and _is_number(words[-1]):
                seconds = float(words.pop())
            if len(words) not in (2, 3):
                raise _Refused("usage: {}grant USER MODULE [COMMAND] [SECONDS]".format(self.config.prefix))
            command_name = words[2] if len(words) == 3 else None
            await self.pyward.grant(self.dispatcher.identity(words[0]), words[1], command_name, expires_in=seconds)
            return "granted {} to {}{}".format(
                "{}{} of {}".format(self.config.prefix, command_name, words[1]) if command_name else words[1],
                words[0], " for {:g} s".format(seconds) if seconds is not None else " until revoked")
        if command == "revoke":
            if len(words) not in (2, 3):
                raise _Refused("usage: {}revoke USER MODULE [COMMAND]".format(self.config.prefix))
            answer = await self.pyward.revoke(self.dispatcher.identity(words[0]), words[1],
                                              words[2] if len(words) == 3 else None)
            return "revoked {} grant(s)".format(answer.get("revoked", 0))
        raise _Refused("unknown owner command {}{}".format(self.config.prefix, command))

    async def _load(self, evt: MessageEvent, words: List[str], rest: str,
                    attachment: Optional[MediaMessageEventContent]) -> str:
        usage = ("usage: {0}load NAME [TIER] with the module in a ``` block, or {0}load [NAME] [TIER] "
                 "in reply to a message with a NAME.py file".format(self.config.prefix))
        if len(words) > 2:
            raise _Refused(usage)
        block = _CODE_BLOCK.search(rest)
        if block is not None:
            if not words:
                raise _Refused(usage)
            name, source = words[0], block.group(1)
        else:
            if attachment is None:
                reply_to = evt.content.get_reply_to()
                if reply_to is None:
                    raise _Refused(usage)
                replied = await self.matrix.get_event(evt.room_id, reply_to)
                if not isinstance(replied, MessageEvent) or not isinstance(replied.content, MediaMessageEventContent) \
                        or replied.content.msgtype != MessageType.FILE:
                    raise _Refused("the message {}load replies to has no file attached".format(self.config.prefix))
                attachment = replied.content
            filename, source = await self._download_module(attachment)
            name = words[0] if words else filename[:-3]
        tier = words[1] if len(words) > 1 else None
        try:
            answer = await self.pyward.load(name, source, tier)
        except PywardError as error:
            return "\n".join(load_refusal(name, error))
        await self.dispatcher.refresh()
        summary = load_summary(name, answer)
        if answer.get("pending_approval"):
            summary += "; {}approve {} runs it".format(self.config.prefix, name)
        return summary

    async def _download_module(self, attachment: MediaMessageEventContent) -> "tuple[str, str]":
        filename = attachment.filename or attachment.body
        if not filename.endswith(".py"):
            raise _Refused("{} is not a .py file".format(filename))
        if attachment.file is not None or not attachment.url:
            raise _Refused("{} is encrypted: this bot reads unencrypted rooms only".format(filename))
        size = getattr(attachment.info, "size", None) if attachment.info else None
        if isinstance(size, int) and size > self.config.max_module_bytes:
            raise _Refused("{} is {} bytes, more than the {} this bot loads".format(
                filename, size, self.config.max_module_bytes))
        data = await self.matrix.download_media(ContentURI(attachment.url))
        if len(data) > self.config.max_module_bytes:
            raise _Refused("{} is {} bytes, more than the {} this bot loads".format(
                filename, len(data), self.config.max_module_bytes))
        try:
            return filename, data.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused("{} is not UTF-8 text".format(filename)) from None

    # -- pyward's host calls to Matrix -----------------------------------------------------

    async def _send(self, room_id: RoomID, text: str, *, reply_to: Optional[str] = None) -> EventID:
        content = TextMessageEventContent(msgtype=MessageType.NOTICE, body=text)
        if reply_to:
            content.set_reply(EventID(reply_to))
        event_id = await self.matrix.send_message(room_id, content)
        self._sent[event_id] = room_id
        while len(self._sent) > _SENT_REMEMBERED:
            self._sent.popitem(last=False)
        return event_id

    async def _reply_to(self, evt: MessageEvent, text: str) -> None:
        try:
            await self._send(evt.room_id, text, reply_to=evt.event_id)
        except MatrixError as error:
            log.warning("could not answer %s in %s: %s", evt.event_id, evt.room_id, error)

    async def _reply(self, module: str, args: Dict[str, Any], event: Optional[Dict[str, Any]]) -> str:
        text = _text(args, "text")
        chat = (event or {}).get("chat")
        if not isinstance(chat, str):
            raise ValueError("this call answers no message (a schedule's run?): use send_message")
        message_id = (event or {}).get("message_id")
        return await self._send(RoomID(chat), text, reply_to=message_id if isinstance(message_id, str) else None)

    async def _send_message(self, module: str, args: Dict[str, Any], event: Optional[Dict[str, Any]]) -> str:
        chat = _text(args, "chat")
        if not chat.startswith("!"):
            raise ValueError("chat must be a Matrix room ID (!...), not {!r}".format(chat))
        return await self._send(RoomID(chat), _text(args, "text"))

    async def _edit_message(self, module: str, args: Dict[str, Any], event: Optional[Dict[str, Any]]) -> str:
        message_id, text = EventID(_text(args, "message_id")), _text(args, "text")
        room_id = self._sent.get(message_id)
        if room_id is None:
            # Not one this run sent (the bot restarted since): look it up in the event's room.
            chat = (event or {}).get("chat")
            if not isinstance(chat, str):
                raise ValueError("{} is not a message this bot sent".format(message_id))
            original = await self.matrix.get_event(RoomID(chat), message_id)
            if original.sender != self.user_id:
                raise ValueError("{} is not a message this bot sent".format(message_id))
            room_id = RoomID(chat)
        content = TextMessageEventContent(msgtype=MessageType.NOTICE, body=text)
        content.set_edit(message_id)
        return await self.matrix.send_message(room_id, content)

    async def _send_file(self, module: str, args: Dict[str, Any], event: Optional[Dict[str, Any]]) -> str:
        name, mime = _text(args, "name"), _text(args, "mime")
        chat = (event or {}).get("chat")
        if not isinstance(chat, str):
            raise ValueError("this call has no chat to send the file to (a schedule's run?)")
        try:
            data = base64.b64decode(_text(args, "data"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data is not base64") from None
        if len(data) != args.get("size"):
            raise ValueError("data is {} bytes where size says {}".format(len(data), args.get("size")))
        url = await self.matrix.upload_media(data, mime_type=mime, filename=name, size=len(data))
        content = MediaMessageEventContent(msgtype=MessageType.FILE, body=name, filename=name, url=url,
                                           info=FileInfo(mimetype=mime, size=len(data)))
        event_id = await self.matrix.send_message(RoomID(chat), content)
        self._sent[event_id] = RoomID(chat)
        return event_id

    async def _log(self, module: str, args: Dict[str, Any], event: Optional[Dict[str, Any]]) -> None:
        level = _LOG_LEVELS.get(str(args.get("level", "info")).lower(), logging.INFO)
        logging.getLogger("pyward.module").log(level, "%s: %s", module, args.get("message"))


def _text(args: Mapping[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise ValueError("`{}` must be a string".format(key))
    return value


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


# -- the command line ----------------------------------------------------------------------


def _parse(argv: Optional[Sequence[str]]) -> MatrixBotConfig:
    ap = argparse.ArgumentParser(prog="python -m pyward_client.matrix",
                                 description="A Matrix host bot for pyward (the access token comes from "
                                             "--token-file or PYWARD_MATRIX_TOKEN).")
    ap.add_argument("--homeserver", required=True, help="the homeserver's client API URL")
    ap.add_argument("--token-file", help="a file holding the bot account's access token")
    ap.add_argument("--owner", action="append", default=[], required=True,
                    help="a Matrix ID that may run the owner commands (repeat for more)")
    ap.add_argument("--socket", default=DEFAULT_SOCKET, help="pyward's socket (default %(default)s)")
    ap.add_argument("--prefix", default=".", help="the command prefix (default %(default)s)")
    ap.add_argument("--modules", help="a directory of NAME.py modules to load (and approve) at start")
    ap.add_argument("--notify-room", help="a room ID where the owners are told what no message asked "
                                          "(modules refused at start)")
    ap.add_argument("--accept-invites", choices=("owners", "anyone"), default="owners",
                    help="whose room invitations the bot accepts (default %(default)s)")
    ap.add_argument("--log-level", default="info", choices=sorted(_LOG_LEVELS))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyward").setLevel(_LOG_LEVELS[args.log_level])
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            token = f.read().strip()
    else:
        token = os.environ.get("PYWARD_MATRIX_TOKEN", "").strip()
    if not token:
        ap.error("no access token: give --token-file, or set PYWARD_MATRIX_TOKEN")
    invites: Literal["owners", "anyone"] = "anyone" if args.accept_invites == "anyone" else "owners"
    return MatrixBotConfig(homeserver=args.homeserver, access_token=token, owners=frozenset(args.owner),
                           socket=args.socket, prefix=args.prefix, modules_dir=args.modules,
                           notify_room=args.notify_room, invites=invites)


async def _run(config: MatrixBotConfig) -> None:
    bot = MatrixBot(config)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await bot.start()
        await asyncio.wait([asyncio.ensure_future(stopped.wait()), asyncio.ensure_future(bot.finished.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
        if bot.finished.is_set():
            raise MatrixError("syncing with {} stopped: {}".format(config.homeserver, bot.failure))
    finally:
        await bot.stop()


def main(argv: Optional[Sequence[str]] = None) -> int:
    config = _parse(argv)
    try:
        asyncio.run(_run(config))
    except MatrixError as error:
        log.error("matrix: %s", error)
        return 1
    except OSError as error:
        log.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
