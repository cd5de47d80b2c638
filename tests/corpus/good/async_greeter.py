"""Async handlers: greets newcomers and tracks how many were greeted."""
import json

import pyward


async def count_greeting(chat):
    seen = json.loads(pyward.kv_get("greeted:" + chat, "0"))
    pyward.kv_set("greeted:" + chat, json.dumps(seen + 1))
    return seen + 1


@pyward.command("welcome", security="everyone", help="welcome NAME")
async def welcome(event, args):
    name = args.strip() or event["sender"]
    number = await count_greeting(event["chat"])
    pyward.reply("Welcome, {}! You are guest number {}.".format(name, number))
