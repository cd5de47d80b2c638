"""pyward's Matrix host bot (pyward_client.matrix) end to end, against a real Synapse.

A Synapse on 127.0.0.1 (SQLite, a temporary directory), three accounts registered through its
shared-secret API (the bot, its owner, and Bob), a room the owner made with the bot and Bob in
it, a real `pyward serve`, and the bot as its own process (`python -m pyward_client.matrix`).
Everything is judged on what Bob and the owner see in the room, through their own /sync.

They need the virtualenv of scripts/matrix-venv (Synapse, mautrix):

    venv=$(bash scripts/matrix-venv)
    PYWARD_BIN=target/debug/pyward "$venv/bin/python" -m pytest -q clients/python/tests/matrix

Without it they skip, loudly; with `matrix` in PYWARD_TEST_EXPECT (CI) that is a failure.

Brokered HTTP: the test's HTTP server listens on 127.0.0.1, and the policy opens exactly
127.0.0.1/32 (`http.allow_cidrs`, plain http for that host only, the `trusted` tier's
`http_hosts`). That needs no root and no network namespace; the broker's refusals of loopback
and private addresses are tested in tests/http.rs, with its servers in a namespace.
"""
import asyncio
import http.server
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

import pytest

from conftest import HERE, ROOT, Daemon

_expected = [c.strip() for c in os.environ.get("PYWARD_TEST_EXPECT", "").split(",")]
try:
    import mautrix  # noqa: F401  (the adapter's library)
    import synapse  # noqa: F401  (the homeserver)
    import yaml  # noqa: F401  (Synapse's config)
except ImportError as missing:
    _why = ("the Matrix tests need Synapse and mautrix ({}); run them with the virtualenv of "
            "scripts/matrix-venv: \"$(bash scripts/matrix-venv)/bin/python\" -m pytest {}").format(
                missing, os.path.relpath(os.path.dirname(os.path.abspath(__file__)), ROOT))
    if "matrix" in _expected:
        pytest.fail("PYWARD_TEST_EXPECT lists `matrix` but it is not available: " + _why, pytrace=False)
    print("SKIPPED (matrix not available): " + _why, file=sys.stderr)
    pytest.skip("SKIPPED (matrix not available): " + _why, allow_module_level=True)

from homeserver import Synapse  # noqa: E402
from pyward_client import Client  # noqa: E402

CLIENT_DIR = os.path.abspath(os.path.join(HERE, ".."))
EXAMPLES = os.path.join(CLIENT_DIR, "examples", "modules")

# Declaring tiers replaces the defaults: `community` is the default one, written out;
# `trusted` may edit, fetch from 127.0.0.1 and hear every event.
POLICY = """
[tiers.community]
host_calls = ["reply", "send_message", "send_file", "log", "kv_get", "kv_set", "kv_delete", "kv_keys"]
events = ["message"]
schedules = true

[tiers.trusted]
host_calls = ["reply", "send_message", "edit_message", "send_file", "log", "http_request",
              "kv_get", "kv_set", "kv_delete", "kv_keys"]
events = ["message", "join", "leave", "reaction"]
schedules = true
http = true
http_hosts = ["127.0.0.1"]

[rate_limit]
calls_per_window = 1000

[http]
allow_cidrs = ["127.0.0.1/32"]
dangerously_allow_plain_http_hosts = ["127.0.0.1"]
"""

VAULT = '''import pyward


@pyward.command("wipe", security="owner", help="owners only")
def wipe(event, args):
    return "wiped by " + event["sender"]
'''

GRABBER = '''import pyward


@pyward.command("grab", security="everyone")
def grab(event, args):
    return eval(args)
'''

GREETER = '''import pyward


@pyward.command("hello", security="everyone", help="hello: a greeting")
def hello(event, args):
    return "hello, " + event["sender"]
'''

FETCHER = '''import pyward

pyward.manifest(host_calls=["reply", "http_request"], http=["127.0.0.1"])


@pyward.command("fetch", security="everyone", help="fetch URL")
def fetch(event, args):
    r = pyward.http.get(args.strip())
    return "fetched {}: {}".format(r.status, r.text)
'''

SHOWCASE = '''import time

import pyward

pyward.manifest(host_calls=["reply", "send_message", "edit_message", "send_file", "log"],
                events=["reaction", "join", "leave"], schedules=True, storage_kb=4)


@pyward.command("progress", security="everyone", help="a message, then its edit")
def progress(event, args):
    sent = pyward.reply("working on " + args)
    pyward.edit_message(sent, "done: " + args)


@pyward.command("report", security="everyone", help="a file")
def report(event, args):
    pyward.send_file("report.txt", "the report on " + args, "text/plain")
    return "sent the report"


@pyward.command("announce", security="everyone", help="a message to the room")
def announce(event, args):
    pyward.send_message(event["chat"], "announcement: " + args)


@pyward.command("remind", security="everyone", help="remind SECONDS TEXT")
def remind_later(event, args):
    seconds, _, text = args.partition(" ")
    pyward.schedule_at(int(time.time() * 1000 + float(seconds) * 1000), "remind", {"chat": event["chat"], "text": text})
    return "will remind in " + seconds + " s"


def remind(payload):
    pyward.send_message(payload["chat"], "reminder: " + payload["text"])


@pyward.on("reaction")
def reacted(event):
    pyward.log("reaction " + event["key"])
    pyward.send_message(event["chat"], "saw " + event["key"] + " on " + event["target"])


@pyward.on("join")
def joined(event):
    pyward.send_message(event["chat"], "welcome, " + event["sender"])


@pyward.on("leave")
def left(event):
    pyward.send_message(event["chat"], "goodbye, " + event["sender"])
'''


@pytest.fixture
def say(capsys):
    """Measurements go to the terminal, past pytest's capture."""

    def write(line):
        with capsys.disabled():
            print("\n[matrix] " + line, flush=True)

    return write


class Serve(Daemon):
    """`pyward serve` with its log kept (the base class drops it)."""

    def start(self):
        with open(os.path.join(self.dir, "serve.log"), "ab") as log:
            self.process = subprocess.Popen([os.environ.get("PYWARD_BIN", os.path.join(ROOT, "target", "debug",
                                                                                       "pyward")),
                                             "serve", "--config", self.config], stderr=log)
        deadline = time.time() + 10
        while not os.path.exists(self.socket):
            if self.process.poll() is not None or time.time() > deadline:
                raise RuntimeError("pyward serve did not start (log: {})".format(self.dir))
            time.sleep(0.02)

    def kill(self):
        """SIGKILL: nothing is written on the way out."""
        self.process.kill()
        self.process.wait()
        if os.path.exists(self.socket):
            os.unlink(self.socket)


class Stack:
    def __init__(self, directory):
        self.dir = str(directory)
        os.makedirs(os.path.join(self.dir, "synapse"))
        self.synapse = Synapse(os.path.join(self.dir, "synapse"))
        # Measured twice: the first start makes the database.
        self.synapse.start()
        self.synapse_starts = [self.synapse.start_seconds]
        self.synapse.stop()
        self.synapse.start()
        self.synapse_starts.append(self.synapse.start_seconds)
        self.bot_user = self.synapse.register("pywardbot")
        self.owner = self.synapse.register("owner")
        self.bob = self.synapse.register("bob")
        self.carol = self.synapse.register("carol")
        self.room = self.owner.create_room(invite=[self.bot_user.user_id, self.bob.user_id])
        self.bob.join(self.room)
        self.owner.watch()
        self.bob.watch()
        self.serve = Serve(POLICY, owners=[self.owner.user_id], sudos=[])
        self.modules = os.path.join(self.dir, "modules")
        os.makedirs(self.modules)
        for name in ("ping.py", "notes.py", "afk.py", "evil.py"):
            shutil.copy(os.path.join(EXAMPLES, name), self.modules)
        self.token_file = os.path.join(self.dir, "bot.token")
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(self.bot_user.token + "\n")
        self.bot_log = os.path.join(self.dir, "bot.log")
        self.bot = None
        self.start_bot()

    @property
    def bot_id(self):
        return self.bot_user.user_id

    def start_bot(self):
        with open(self.bot_log, "ab") as log:
            before = self._readies()
            env = dict(os.environ, PYTHONPATH=CLIENT_DIR)
            env.pop("PYWARD_MATRIX_TOKEN", None)
            self.bot = subprocess.Popen([sys.executable, "-m", "pyward_client.matrix",
                                         "--homeserver", self.synapse.url, "--token-file", self.token_file,
                                         "--owner", self.owner.user_id, "--socket", self.serve.socket,
                                         "--modules", self.modules, "--notify-room", self.room],
                                        stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + 30
        while self._readies() == before:
            if self.bot.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Matrix bot did not start:\n" + self._log_tail())
            time.sleep(0.05)

    def _readies(self):
        with open(self.bot_log, "a+") as f:
            f.seek(0)
            return f.read().count(" ready as ")

    def _log_tail(self):
        with open(self.bot_log) as f:
            return f.read()[-4000:]

    def kill_bot(self):
        self.bot.kill()
        self.bot.wait()

    def down(self):
        for user in (self.owner, self.bob):
            user.stop_watching()
        if self.bot and self.bot.poll() is None:
            self.bot.send_signal(signal.SIGTERM)
            try:
                self.bot.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.bot.kill()
                self.bot.wait()
        self.serve.cleanup()
        self.synapse.stop()

    # -- talking -------------------------------------------------------------------------

    def from_bot(self, event):
        return event.get("sender") == self.bot_id and event.get("type") == "m.room.message"

    def reply_to(self, user, event_id, timeout=20):
        """The bot's reply to `event_id`, as `user` sees it: (seen at, event)."""
        seen, _, event = user.wait_for(
            lambda room, e: room == self.room and self.from_bot(e)
            and e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id,
            timeout=timeout, what="the bot's reply to " + event_id)
        return seen, event

    def ask(self, user, text):
        """Say `text` in the room as `user`; the bot's reply body."""
        event_id = user.say(self.room, text)
        return self.reply_to(user, event_id)[1]["content"]["body"]

    def bot_says(self, user, predicate, what, timeout=20):
        """A message from the bot whose body `predicate` accepts."""
        return user.wait_for(lambda room, e: room == self.room and self.from_bot(e)
                             and predicate(e["content"].get("body", "")), timeout=timeout, what=what)[2]

    def load_as_owner(self, name, source, tier=None):
        """`.load NAME [TIER]` with a code block, then `.approve NAME` if it waits; the answers."""
        answers = [self.ask(self.owner, ".load {}{}\n```python\n{}```".format(name, " " + tier if tier else "", source))]
        if "waits for approval" in answers[0]:
            answers.append(self.ask(self.owner, ".approve " + name))
        return answers


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("matrix"))
    try:
        yield s
    finally:
        s.down()


def test_ping_gets_the_modules_reply_in_the_room(stack, say):
    say("Synapse: start to first answer (GET /_matrix/client/versions) {:.2f} s with a new SQLite database, "
        "{:.2f} s with it made".format(*stack.synapse_starts))
    # The bot was invited before it ran: it joined on its first sync, because an owner invited it.
    event_id = stack.bob.say(stack.room, ".ping")
    _, reply = stack.reply_to(stack.bob, event_id)
    assert reply["content"]["msgtype"] == "m.notice"
    assert reply["content"]["body"].startswith("pong — "), reply
    # A command no module declares, and help, are answered by the dispatcher.
    assert stack.ask(stack.bob, ".free-stickers") == "unknown command .free-stickers"
    assert ".note — note add TEXT | note list" in stack.ask(stack.bob, ".help")


def test_a_module_the_scanner_rejects_is_reported_to_the_owner(stack):
    # At start, in the notify room: evil.py from the bot's module directory, rule and line.
    report = stack.bot_says(stack.owner, lambda body: body.startswith("refused to load evil: scan_rejected"),
                            "the start-up scan report")["content"]["body"]
    assert "  line 7: [forbidden-attribute] attribute `__class__` is forbidden" in report, report
    assert "  line 8: [dynamic-attribute] getattr() reaches the forbidden attribute `access_token`" in report, report
    # Sent by the owner in a message: the answer names the rule and the line.
    answer = stack.ask(stack.owner, ".load grabber\n```python\n{}```".format(GRABBER))
    assert answer.startswith("refused to load grabber: scan_rejected"), answer
    assert "line 6: [forbidden-name]" in answer, answer
    assert "grabber" not in [m["name"] for m in asyncio.run(_modules(stack))]


def test_owner_commands_and_owner_only_module_commands_refuse_others(stack):
    # The bot's own owner commands: Bob is no owner.
    answer = stack.ask(stack.bob, ".load vault\n```python\n{}```".format(VAULT))
    assert answer == "{}, .load is for the bot's owners".format(stack.bob.user_id)
    assert "vault" not in [m["name"] for m in asyncio.run(_modules(stack))]
    assert stack.load_as_owner("vault", VAULT) == ["loaded vault (wipe)"]
    # A module's owner-level command: pyward's ACL refuses Bob, the room is told why.
    assert stack.ask(stack.bob, ".wipe") == "{}, .wipe needs owner rights".format(stack.bob.user_id)
    assert stack.ask(stack.owner, ".wipe") == "wiped by " + stack.owner.user_id
    # A grant lets Bob, until it is revoked.
    assert stack.ask(stack.owner, ".grant {} vault wipe".format(stack.bob.user_id)) == \
        "granted .wipe of vault to {} until revoked".format(stack.bob.user_id)
    assert stack.ask(stack.bob, ".wipe") == "wiped by " + stack.bob.user_id
    assert stack.ask(stack.owner, ".revoke {} vault wipe".format(stack.bob.user_id)) == "revoked 1 grant(s)"
    assert stack.ask(stack.bob, ".wipe") == "{}, .wipe needs owner rights".format(stack.bob.user_id)
    assert stack.ask(stack.bob, ".unload vault").endswith(".unload is for the bot's owners")
    assert stack.ask(stack.owner, ".unload vault") == "unloaded vault (its storage is kept)"
    assert stack.ask(stack.bob, ".wipe") == "unknown command .wipe"


def test_a_module_from_an_attached_file(stack):
    # Bob's file: not his to load.
    file_event = stack.bob.send_file(stack.room, GREETER.encode(), "greeter.py", "text/x-python")
    answer = stack.reply_to(stack.bob, stack.bob.say(stack.room, ".load", reply_to=file_event))[1]
    assert answer["content"]["body"] == "{}, .load is for the bot's owners".format(stack.bob.user_id)
    # The owner replies `.load` to it: loaded under the file's name.
    load = stack.owner.say(stack.room, ".load", reply_to=file_event)
    assert stack.reply_to(stack.owner, load)[1]["content"]["body"] == "loaded greeter (hello)"
    assert stack.ask(stack.bob, ".hello") == "hello, " + stack.bob.user_id
    # Or as the caption of the file itself.
    captioned = stack.owner.send_file(stack.room, GREETER.replace('"hello"', '"hi"').encode(), "greeter2.py",
                                      "text/x-python", caption=".load")
    assert stack.reply_to(stack.owner, captioned)[1]["content"]["body"] == "loaded greeter2 (hi)"


class _Forecast(http.server.BaseHTTPRequestHandler):
    requests = []

    def do_GET(self):
        _Forecast.requests.append(self.path)
        body = b"sunny over 127.0.0.1"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_an_approved_module_fetches_from_a_test_server_and_posts_it(stack):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Forecast)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answers = stack.load_as_owner("fetcher", FETCHER, tier="trusted")
        assert answers[0].startswith("fetcher waits for approval: it asks for "), answers
        assert "127.0.0.1" in answers[0] and answers[0].endswith(".approve fetcher runs it"), answers
        assert answers[1] == "loaded fetcher (fetch)", answers
        url = "http://127.0.0.1:{}/forecast".format(server.server_address[1])
        assert stack.ask(stack.bob, ".fetch " + url) == "fetched 200: sunny over 127.0.0.1"
        assert _Forecast.requests == ["/forecast"]
        # Only the approved host: Synapse's own name is not on the list.
        refused = stack.ask(stack.bob, ".fetch http://localhost:{}/".format(stack.synapse.port))
        assert refused.startswith(".fetch failed (sandbox_violation)"), refused
    finally:
        server.shutdown()
        server.server_close()


def test_edits_files_sends_events_and_schedules(stack):
    answers = stack.load_as_owner("showcase", SHOWCASE, tier="trusted")
    assert answers[-1] == "loaded showcase (announce, progress, remind, report)", answers
    bob, room = stack.bob, stack.room
    # reply, then edit_message: an m.replace of the bot's own message.
    progress = bob.say(room, ".progress the edit")
    _, first = stack.reply_to(bob, progress)
    assert first["content"]["body"] == "working on the edit"
    _, _, edit = bob.wait_for(lambda r, e: stack.from_bot(e) and e["content"].get("m.relates_to", {}).get(
        "rel_type") == "m.replace", what="the edit")
    assert edit["content"]["m.relates_to"]["event_id"] == first["event_id"]
    assert edit["content"]["m.new_content"]["body"] == "done: the edit"
    # send_file: an m.file upload Bob can download.
    assert stack.ask(bob, ".report pyward") == "sent the report"
    upload = stack.bot_says(bob, lambda body: body == "report.txt", "the report file")
    assert upload["content"]["msgtype"] == "m.file"
    assert upload["content"]["info"] == {"mimetype": "text/plain", "size": len(b"the report on pyward")}
    assert bob.download(upload["content"]["url"]) == b"the report on pyward"
    # send_message: a message to the room, answering nothing.
    bob.say(room, ".announce lunch is served")
    announcement = stack.bot_says(bob, lambda body: body == "announcement: lunch is served", "the announcement")
    assert "m.in_reply_to" not in announcement["content"].get("m.relates_to", {})
    # A schedule: fired by pyward a second later, sent to the subscribed bot.
    assert stack.ask(bob, ".remind 1 stretch") == "will remind in 1 s"
    stack.bot_says(bob, lambda body: body == "reminder: stretch", "the reminder")
    # Events: a reaction reaches the module that asked for reactions...
    stack.ask(bob, ".ping")
    target = bob.say(room, "react to me")
    bob.react(room, target, "👍")
    stack.bot_says(bob, lambda body: body == "saw 👍 on " + target, "the reaction event")
    # ...joins and leaves reach it too...
    stack.owner.invite(room, stack.carol.user_id)
    stack.carol.join(room)
    stack.bot_says(bob, lambda body: body == "welcome, " + stack.carol.user_id, "the join event")
    stack.carol.leave(room)
    stack.bot_says(bob, lambda body: body == "goodbye, " + stack.carol.user_id, "the leave event")
    # ...and plain messages reach afk, which answers from its storage.
    assert stack.ask(bob, ".afk lunch") == "{} is now away".format(bob.user_id)
    mention = stack.owner.say(room, "is {} around?".format(bob.user_id))
    assert stack.reply_to(stack.owner, mention)[1]["content"]["body"] == "{} is away: lunch".format(bob.user_id)
    back = bob.say(room, "back")
    assert stack.reply_to(bob, back)[1]["content"]["body"] == "welcome back, " + bob.user_id
    # An edit is not a new command: it is not run.
    first = bob.say(room, ".announce the first version")
    stack.bot_says(bob, lambda body: body == "announcement: the first version", "the announcement")
    bob.edit(room, first, ".announce the edited version")
    stack.ask(bob, ".ping")
    time.sleep(0.5)
    assert not bob.seen(lambda r, e: stack.from_bot(e) and "edited version" in e["content"].get("body", ""))


async def _modules(stack):
    async with Client(stack.serve.socket) as client:
        return await client.modules()


async def _direct_pings(stack, count):
    async with Client(stack.serve.socket) as client:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            answer = await client.call_command("ping", "ping", "", user=stack.bob.user_id,
                                               event={"chat": stack.room, "sender": stack.bob.user_id})
            times.append(time.perf_counter() - started)
            assert answer["result"] == "pong"
        return times


def test_ping_latency_through_matrix_and_direct(stack, say):
    count = 20
    through_matrix, sending = [], []
    for _ in range(count):
        started = time.monotonic()
        event_id = stack.bob.say(stack.room, ".ping")
        sending.append(time.monotonic() - started)
        seen, reply = stack.reply_to(stack.bob, event_id)
        assert reply["content"]["body"].startswith("pong")
        through_matrix.append(seen - started)
    direct = asyncio.run(_direct_pings(stack, count))
    matrix_p50, direct_p50 = statistics.median(through_matrix) * 1000, statistics.median(direct) * 1000
    say(".ping round trip, p50 of {}: through Matrix (Bob sends, Bob's /sync sees the reply) {:.1f} ms "
        "(min {:.1f}, max {:.1f}; Bob's send alone {:.1f}); a direct client.call_command to pyward {:.2f} ms".format(
            count, matrix_p50, min(through_matrix) * 1000, max(through_matrix) * 1000,
            statistics.median(sending) * 1000, direct_p50))
    assert direct_p50 < matrix_p50


def test_restarts_lose_no_module_data_and_replay_nothing(stack):
    bob, room = stack.bob, stack.room
    assert stack.ask(bob, ".note add milk") == "noted (1 so far)"
    if not any(m["name"] == "showcase" for m in asyncio.run(_modules(stack))):
        stack.load_as_owner("showcase", SHOWCASE, tier="trusted")

    # The supervisor alone (kill -9): the bot reconnects and subscribes again, so a schedule's
    # message still reaches the room.
    stack.serve.kill()
    stack.serve.start()
    assert stack.ask(bob, ".remind 1 after the supervisor restarted") == "will remind in 1 s"
    stack.bot_says(bob, lambda body: body == "reminder: after the supervisor restarted", "the reminder")

    # Both (kill -9), with a command the bot already answered last in the room's history.
    last = bob.say(room, ".note add bread")
    stack.reply_to(bob, last)
    answered_before = len(bob.seen(lambda r, e: stack.from_bot(e)))
    stack.kill_bot()
    stack.serve.kill()
    stack.serve.start()
    stack.start_bot()
    # What was said before the bot started is not handled again: no new answers.
    time.sleep(2)
    notes = stack.ask(bob, ".note list")
    assert notes == "- milk (by {0})\n- bread (by {0})".format(bob.user_id), notes
    answers = bob.seen(lambda r, e: stack.from_bot(e))
    new = [e["content"]["body"] for e in answers[answered_before:]]
    # The start-up report (evil.py, again) and the answer to `.note list`, nothing else.
    assert new[-1] == notes
    assert [b for b in new[:-1] if not b.startswith("refused to load evil")] == [], new
