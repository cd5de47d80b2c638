"""Async activity digest: tracks what people talk about and summarises the busiest words."""
# call: digest "" => "Nothing tracked in this room yet."
# call: track "Release notes for the new release are up" => "Tracked 3 words from @alice:example.org."
# call: track "Who reviews the release branch? The notes look good." => "Tracked 4 words from @alice:example.org."
# call: digest "3" => "2 messages, 7 words, 1 person.\nTop words: release (3), notes (2), branch (1)"
# call: digest "lots" => "Usage: digest [N] with N from 1 to 20"
import asyncio
import collections
import re

import pyward

STOPWORDS = frozenset(
    "a an and are as at be by for from has have i in is it its look of on or the this to up was "
    "we were what who will with you new good".split()
)
WORD = re.compile(r"[a-z][a-z'-]{1,30}")


def empty():
    return {"messages": 0, "words": {}, "people": {}}


async def load(chat):
    await asyncio.sleep(0)
    return pyward.kv_get("digest:" + chat, empty())


async def save(chat, data):
    await asyncio.sleep(0)
    pyward.kv_set("digest:" + chat, data)


async def extract_words(text):
    words = [w.strip("'-") for w in WORD.findall(text.lower())]
    return [w for w in words if w and w not in STOPWORDS]


async def top_words(data, count):
    counter = collections.Counter(data["words"])
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:count]


@pyward.command("track", security="everyone", help="track TEXT (normally wired to every message)")
async def track(event, args):
    words = await extract_words(args)
    data = await load(event["chat"])
    data["messages"] += 1
    counter = collections.Counter(data["words"])
    counter.update(words)
    data["words"] = dict(counter)
    data["people"][event["sender"]] = data["people"].get(event["sender"], 0) + 1
    await save(event["chat"], data)
    return "Tracked {} words from {}.".format(len(words), event["sender"])


@pyward.command("digest", security="everyone", help="digest [N]: the N busiest words")
async def digest(event, args):
    wanted = args.strip() or "5"
    if not wanted.isdigit() or not 1 <= int(wanted) <= 20:
        return "Usage: digest [N] with N from 1 to 20"
    data = await load(event["chat"])
    if not data["messages"]:
        return "Nothing tracked in this room yet."
    ranked = await top_words(data, int(wanted))
    people = len(data["people"])
    summary = "{} messages, {} words, {} {}.".format(
        data["messages"], sum(data["words"].values()), people, "person" if people == 1 else "people")
    listing = ", ".join("{} ({})".format(word, n) for word, n in ranked)
    return summary + "\nTop words: " + (listing or "none")
