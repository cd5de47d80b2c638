"""Simple polls stored in the module's key-value store."""
import json

import pyward


def _poll(chat):
    return json.loads(pyward.kv_get("poll:" + chat, "null") or "null")


@pyward.command("poll", security="sudo", help="poll Question? | option a | option b")
def poll(event, args):
    parts = [p.strip() for p in args.split("|") if p.strip()]
    if len(parts) < 3:
        return "Usage: poll Question? | option | option [| ...]"
    data = {"question": parts[0], "options": parts[1:], "votes": {}}
    pyward.kv_set("poll:" + event["chat"], json.dumps(data))
    lines = [data["question"]] + ["{}) {}".format(i + 1, o) for i, o in enumerate(data["options"])]
    return "\n".join(lines)


@pyward.command("vote", security="everyone", help="vote N")
def vote(event, args):
    data = _poll(event["chat"])
    if data is None:
        return "There is no poll running."
    if not args.strip().isdigit() or not 1 <= int(args) <= len(data["options"]):
        return "Vote with a number from 1 to {}".format(len(data["options"]))
    data["votes"][event["sender"]] = int(args) - 1
    pyward.kv_set("poll:" + event["chat"], json.dumps(data))
    tally = [0] * len(data["options"])
    for choice in data["votes"].values():
        tally[choice] += 1
    return " | ".join("{}: {}".format(o, n) for o, n in zip(data["options"], tally))
