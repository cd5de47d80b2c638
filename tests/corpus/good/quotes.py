"""Random quotes, with a per-chat memory of the last one shown."""
import random

import pyward

QUOTES = [
    ("Simple is better than complex.", "The Zen of Python"),
    ("Premature optimization is the root of all evil.", "Donald Knuth"),
    ("Make it work, make it right, make it fast.", "Kent Beck"),
    ("Programs must be written for people to read.", "Harold Abelson"),
]


@pyward.command("quote", security="everyone", help="A random quote")
def quote(event, args):
    last = pyward.kv_get("last:" + event["chat"])
    choices = [q for q in QUOTES if q[0] != last] or QUOTES
    text, author = random.choice(choices)
    pyward.kv_set("last:" + event["chat"], text)
    return "\u201c{}\u201d \u2014 {}".format(text, author)
