"""Karma: thing++ and thing-- anywhere in a message, with a per-room leaderboard."""
# call: karma "" => "Nobody has karma yet."
# call: karma "bob++ for the fix, and pizza++" => "bob: 1, pizza: 1"
# call: karma "@alice:example.org++" => "Nice try, no karma for yourself."
# call: karma "bob++ carol-- (bob++)" => "bob: 3, carol: -1"
# call: karma "" => "1. bob 3\n2. pizza 1\n3. carol -1"
import collections
import re

import pyward

CHANGE = re.compile(r"(@?[\w.:-]{2,64}?)(\+\+|--)(?![\w+-])")
MAX_CHANGES = 5


def load(chat):
    return collections.Counter(pyward.kv_get("karma:" + chat, {}))


@pyward.command("karma", security="everyone", help="karma THING++ | karma THING-- | karma (top) | karma ?THING")
def karma(event, args):
    chat = event["chat"]
    scores = load(chat)
    text = args.strip()
    if text.startswith("?"):
        name = text[1:].strip().lower()
        return "{} has {} karma.".format(name, scores.get(name, 0))
    changes = [(m.group(1).lower(), 1 if m.group(2) == "++" else -1) for m in CHANGE.finditer(text)]
    if not changes:
        if text:
            return "Usage: karma THING++ | karma THING-- | karma ?THING | karma"
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:10]
        if not ranked:
            return "Nobody has karma yet."
        return "\n".join("{}. {} {}".format(i + 1, name, value) for i, (name, value) in enumerate(ranked))
    me = event["sender"].lower()
    if any(name in (me, me.lstrip("@").partition(":")[0]) for name, _ in changes):
        return "Nice try, no karma for yourself."
    touched = []
    for name, delta in changes[:MAX_CHANGES]:
        scores[name] += delta
        if name not in touched:
            touched.append(name)
    pyward.kv_set("karma:" + chat, dict(scores))
    return ", ".join("{}: {}".format(name, scores[name]) for name in touched)
