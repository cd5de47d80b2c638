"""A small inventory per chat: items are plain classes with a readable repr."""
import json

import pyward


class Item:
    def __init__(self, name, count):
        self.name = name
        self.count = count

    def __repr__(self):
        return "{}({!r}, {})".format(self.__class__.__name__, self.name, self.count)


class Tool(Item):
    kind = "tool"


class Food(Item):
    kind = "food"


KINDS = {"tool": Tool, "food": Food}


def load(chat):
    raw = json.loads(pyward.kv_get("inventory:" + chat, "[]") or "[]")
    return [KINDS[kind](name, count) for kind, name, count in raw]


def save(chat, items):
    pyward.kv_set("inventory:" + chat, json.dumps([[i.kind, i.name, i.count] for i in items]))


@pyward.command("stock", security="everyone", help="stock add tool|food NAME N | stock list")
def stock(event, args):
    chat = event["chat"]
    items = load(chat)
    parts = args.split()
    if len(parts) == 4 and parts[0] == "add" and parts[1] in KINDS and parts[3].isdigit():
        items.append(KINDS[parts[1]](parts[2], int(parts[3])))
        save(chat, items)
        return "Added {!r}".format(items[-1])
    if parts[:1] == ["list"]:
        return ", ".join(repr(i) for i in items) or "Nothing in stock."
    return "Usage: stock add tool|food NAME N | stock list"
