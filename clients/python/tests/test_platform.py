"""The module platform through the Python client and its Dispatcher, against a real supervisor."""
import asyncio
import base64
import time

import pytest

from conftest import Daemon
from pyward_client import Client, Dispatcher, PywardError


def run(coroutine):
    return asyncio.run(coroutine)


NOTES = '''import pyward

pyward.manifest(storage_kb=4)


@pyward.command("note", security="everyone", help="note TEXT | note")
def note(event, args):
    if args:
        pyward.kv_set("n/" + str(len(pyward.kv_keys("n/"))), args)
    return ", ".join(pyward.kv_get(k) for k in pyward.kv_keys("n/")) or "none"


@pyward.command("wipe", security="owner", help="forget every note")
def wipe(event, args):
    for key in pyward.kv_keys("n/"):
        pyward.kv_delete(key)
    return "wiped"


def big():
    pyward.kv_set("big", "x" * 20000)
'''

WEATHER = '''import pyward

pyward.manifest(config=["api_key", "city"], host_calls=["reply", "send_file"])


@pyward.command("weather", security="everyone", help="weather: today's forecast")
def weather(event, args):
    pyward.send_file("forecast.txt", "sunny in " + pyward.config("city", "?"), "text/plain")
    return "key " + ("set" if pyward.config("api_key") else "missing")
'''

AFK = '''import pyward

pyward.manifest(events=["message"], schedules=True, storage_kb=8)


@pyward.on("message")
def seen(event):
    pyward.kv_set("last", event["text"])
    if "ping" in event["text"]:
        pyward.reply("pong from an event")
    return event["text"]


def remind(payload):
    pyward.send_message(payload["chat"], payload["text"])


def later(ms, text):
    return pyward.schedule_at(ms, "remind", {"chat": "c1", "text": text})
'''


def test_storage_is_kept_by_pyward_not_the_bot(daemon):
    async def go():
        client = Client(daemon.socket)
        relayed = []

        @client.host("kv_get")
        async def kv_get(module, args, event):  # never called any more
            relayed.append("kv_get")

        async with client:
            loaded = await client.load("notes", NOTES)
            assert loaded["approval"] == "baseline"
            for text in ["milk", "eggs"]:
                result = await client.call_command("notes", "note", text, user="@ann")
            assert result["result"] == "milk, eggs"
            with pytest.raises(PywardError) as refused:
                await client.call_function("notes", "big", user="@owner")
            assert refused.value.reason == "budget_exceeded"
            assert refused.value.data["budget"] == "storage.max_value_bytes"
            entry = [m for m in await client.modules() if m["name"] == "notes"][0]
            assert entry["storage"]["keys"] == 2
        assert relayed == []
    run(go())


def test_approval_config_secrets_and_files(daemon):
    async def go():
        client = Client(daemon.socket)
        files = []

        @client.host("send_file")
        async def send_file(module, args, event):
            files.append((args["name"], args["mime"], base64.b64decode(args["data"])))

        async with client:
            pending = await client.load("weather", WEATHER)
            assert pending["pending_approval"] is True
            assert "config `api_key`" in pending["widening"]
            assert [p["name"] for p in await client.pending()] == ["weather"]
            approved = await client.approve("weather", pending["source_sha256"])
            assert approved["approval"] == "approved_now"
            await client.configure("weather", {"api_key": "sk-secret-42", "city": "Oslo"}, secret=["api_key"])
            result = await client.call_command("weather", "weather", user="@ann", event={"chat": "c1", "sender": "@ann"})
            assert result["result"] == "key set"
            assert files == [("forecast.txt", "text/plain", b"sunny in Oslo")]
            listed = str(await client.modules()) + str(await client.audit(1000))
            assert "sk-secret-42" not in listed and "Oslo" in listed
            with pytest.raises(PywardError) as undeclared:
                await client.configure("weather", {"password": "x"})
            assert undeclared.value.reason == "bad_request"
            with pytest.raises(PywardError) as over:
                await client.load("spy", 'import pyward\npyward.manifest(http=["evil.example"])\n', approve=True)
            assert over.value.reason == "capability_denied"
    run(go())


def test_the_dispatcher_routes_commands_help_users_and_events(daemon):
    async def go():
        client = Client(daemon.socket)
        replies = []

        @client.host("reply")
        async def reply(module, args, event):
            replies.append((module, args["text"]))

        async with client:
            await client.load("notes", NOTES)
            await client.load("afk", AFK, approve=True)
            dispatcher = Dispatcher(client, prefix="!", users={"@ann:example.org": "@owner"})
            await dispatcher.start()
            out = await dispatcher.handle("@bob", "!note tea", chat="c1")
            assert (out.kind, out.text, out.module) == ("reply", "tea", "notes")
            # @bob is nobody; the same person as @ann:example.org is the policy's owner.
            refused = await dispatcher.handle("@bob", "!wipe", chat="c1")
            assert refused.kind == "error" and refused.error.reason == "acl_denied"
            allowed = await dispatcher.handle("@ann:example.org", "!wipe", chat="c1")
            assert allowed.text == "wiped"
            helped = await dispatcher.handle("@bob", "!help", chat="c1")
            assert "!note — note TEXT | note" in helped.text and "!wipe" in helped.text
            assert "owner" in (await dispatcher.handle("@bob", "!help wipe", chat="c1")).text
            assert (await dispatcher.handle("@bob", "!nope", chat="c1")).kind == "unknown"
            # Not a command: forwarded as an event to the modules that asked for it.
            event = await dispatcher.handle("@bob", "ping everyone", chat="c1")
            assert event.kind == "event"
            assert event.delivered == [{"module": "afk", "ok": True, "result": ["ping everyone"], "stdout": ""}]
            assert ("afk", "pong from an event") in replies
    run(go())


def test_schedules_reach_the_subscribed_bot():
    daemon = Daemon('[schedules]\nmin_interval_seconds = 1\n')
    try:
        async def go():
            admin = Client(daemon.socket)
            bot = Client(daemon.socket)
            got = asyncio.get_running_loop().create_future()

            @bot.host("send_message")
            async def send_message(module, args, event):
                if not got.done():
                    got.set_result((module, args["text"], event["type"]))

            async with admin, bot:
                await admin.load("afk", AFK, approve=True)
                await bot.subscribe(["afk"])
                await admin.call_function("afk", "later", [int(time.time() * 1000) + 300, "stand up"], user="@owner")
                assert await asyncio.wait_for(got, 5) == ("afk", "stand up", "schedule")
                with pytest.raises(PywardError) as expired:
                    await admin.call_function("afk", "later", [1000, "too late"], user="@owner")
                assert "already passed" in expired.value.data["detail"]
        run(go())
    finally:
        daemon.cleanup()
