#!/usr/bin/env python3
"""An example host bot: chat comes from stdin, modules run in pyward.

Each stdin line is `SENDER: TEXT`. The client's Dispatcher routes text starting with `.` to
whichever loaded module declares the command (`.ping`, `.note add milk`, `.help`), and forwards
every other message as an event to the modules that asked for it (`.afk`). Lines starting
with `!` are the operator's console: `!grant USER MODULE COMMAND SECONDS`, `!sleep SECONDS`,
`!status`. What a chat would show is printed: `bot> ...` for replies, `[log] ...` for module
logs. The modules keep their data in the storage pyward keeps for each of them.

    python3 bot.py --socket /run/pyward/pyward.sock --modules examples/modules < chat.txt
"""
import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pyward_client import Client, Dispatcher  # noqa: E402
from pyward_client.dispatcher import load_directory  # noqa: E402

CHAT = "!example-room"


def say(text):
    print(text, flush=True)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", default="/run/pyward/pyward.sock")
    ap.add_argument("--modules", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "modules"))
    args = ap.parse_args()

    client = Client(args.socket)
    dispatcher = Dispatcher(client, prefix=".")

    @client.host("reply")
    async def reply(module, call_args, event):
        say("bot> " + call_args["text"])

    @client.host("send_message")
    async def send_message(module, call_args, event):
        say("bot (to {})> {}".format(call_args["chat"], call_args["text"]))

    @client.host("edit_message")
    async def edit_message(module, call_args, event):
        say("bot (edits {})> {}".format(call_args["message_id"], call_args["text"]))

    @client.host("send_file")
    async def send_file(module, call_args, event):
        say("bot sends {} ({}, {} bytes)".format(call_args["name"], call_args["mime"], call_args["size"]))

    @client.host("log")
    async def log(module, call_args, event):
        say("[log] {}: {}".format(module, call_args["message"]))

    await client.connect()
    # The operator ships these modules with the bot: what they ask for is approved here.
    for _, lines in await load_directory(client, args.modules):
        for line in lines:
            say(line)
    await dispatcher.start()

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
        outcome = await dispatcher.handle(sender, text, chat=CHAT, message_id=str(number))
        answer = dispatcher.answer(outcome, sender)
        if answer:
            say("bot> " + answer)
        for delivery in outcome.delivered:
            if not delivery["ok"]:
                say("[event] {} failed: {}".format(delivery["module"], delivery["error"]["message"]))
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
