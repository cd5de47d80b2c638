#!/usr/bin/env python3
"""An example host bot: chat comes from stdin, modules run in pyward.

Each stdin line is `SENDER: TEXT`. Text starting with `.` is a command (`.ping`,
`.note add milk`), sent to whichever loaded module declares it. Lines starting with `!` are the
operator's console: `!grant USER MODULE COMMAND SECONDS`, `!sleep SECONDS`, `!status`.
What a chat would show is printed: `bot> ...` for replies, `[log] ...` for module logs.

    python3 bot.py --socket /run/pyward/pyward.sock --modules examples/modules < chat.txt
"""
import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pyward_client import Client, PywardError  # noqa: E402

CHAT = "!example-room"


def say(text):
    print(text, flush=True)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", default="/run/pyward/pyward.sock")
    ap.add_argument("--modules", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "modules"))
    args = ap.parse_args()

    client = Client(args.socket)
    storage = {}  # the bot's key-value store, scoped by module

    @client.host("reply")
    async def reply(module, call_args, event):
        say("bot> " + call_args["text"])

    @client.host("send_message")
    async def send_message(module, call_args, event):
        say("bot (to {})> {}".format(call_args["chat"], call_args["text"]))

    @client.host("edit_message")
    async def edit_message(module, call_args, event):
        say("bot (edits {})> {}".format(call_args["message_id"], call_args["text"]))

    @client.host("kv_get")
    async def kv_get(module, call_args, event):
        return storage.get((module, call_args["key"]))

    @client.host("kv_set")
    async def kv_set(module, call_args, event):
        storage[(module, call_args["key"])] = call_args["value"]

    @client.host("kv_delete")
    async def kv_delete(module, call_args, event):
        storage.pop((module, call_args["key"]), None)

    @client.host("log")
    async def log(module, call_args, event):
        say("[log] {}: {}".format(module, call_args["message"]))

    await client.connect()
    commands = {}
    for filename in sorted(os.listdir(args.modules)):
        if not filename.endswith(".py"):
            continue
        name = filename[:-3]
        with open(os.path.join(args.modules, filename)) as f:
            source = f.read()
        try:
            loaded = await client.load(name, source)
        except PywardError as error:
            say("refused to load {}: {}".format(name, error.reason))
            for finding in error.data.get("findings", []):
                if finding["severity"] == "error":
                    say("  line {}: [{}] {}".format(finding["line"], finding["rule"], finding["message"]))
            continue
        for command in loaded["commands"]:
            commands[command["name"]] = name
        say("loaded {} ({})".format(name, ", ".join(c["name"] for c in loaded["commands"])))

    for number, line in enumerate(sys.stdin, 1):
        line = line.rstrip("\n")
        if line.startswith("!"):
            word, *rest = line[1:].split()
            if word == "grant":
                user, module, command, seconds = rest
                await client.grant(user, module, command, expires_in=int(seconds))
                say("[console] granted {} to {} for {} s".format(command, user, seconds))
            elif word == "sleep":
                await asyncio.sleep(float(rest[0]))
            elif word == "status":
                for m in await client.modules():
                    say("[console] {} score {:.1f}{}".format(m["name"], m["health"]["score"],
                                                           " QUARANTINED" if m["health"]["quarantined"] else ""))
            continue
        sender, _, text = line.partition(": ")
        say("{}: {}".format(sender, text))
        if not text.startswith("."):
            continue
        command, _, rest = text[1:].partition(" ")
        module = commands.get(command)
        if module is None:
            say("bot> unknown command .{}".format(command))
            continue
        event = {"chat": CHAT, "sender": sender, "message_id": str(number), "sent_ms": time.time() * 1000}
        try:
            result = await client.call_command(module, command, rest, user=sender, event=event)
        except PywardError as error:
            if error.reason == "acl_denied":
                denied = error.data.get("denied", {})
                if denied.get("reason") == "grant_expired":
                    say("bot> {}, your permission for .{} has expired".format(sender, command))
                else:
                    say("bot> {}, .{} needs {} rights".format(sender, command, denied.get("needs", "more")))
            else:
                say("bot> .{} failed ({}): {}".format(command, error.reason, error.message))
            continue
        if isinstance(result.get("result"), str):
            say("bot> " + result["result"])
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
