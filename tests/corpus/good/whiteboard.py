"""Shared whiteboard of nested facts per room, with undo (copy) and a pretty dump (pprint)."""
# call: board "show" => "The board is empty."
# call: board "set team.lead Alice" => "team.lead = 'Alice'"
# call: board "set team.size 4" => "team.size = 4"
# call: board "undo" => "Undone. 1 earlier version left."
# call: board "show" => "{'team': {'lead': 'Alice'}}"
import copy
import pprint

import pyward

HISTORY = 10
USAGE = "Usage: board show | board set PATH VALUE | board del PATH | board undo"


def load(chat):
    return pyward.kv_get("board:" + chat, {"data": {}, "history": []})


def save(chat, state):
    pyward.kv_set("board:" + chat, state)


def parse_value(text):
    if text.lstrip("-").isdigit():
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def remember(state):
    state["history"].append(copy.deepcopy(state["data"]))
    del state["history"][:-HISTORY]


@pyward.command("board", security="everyone", help=USAGE)
def board(event, args):
    chat = event["chat"]
    state = load(chat)
    verb, _, rest = args.strip().partition(" ")
    path, _, value = rest.strip().partition(" ")
    keys = [k for k in path.split(".") if k]
    if verb == "show":
        if not state["data"]:
            return "The board is empty."
        return pprint.pformat(state["data"], width=60, sort_dicts=True)
    if verb == "undo":
        if not state["history"]:
            return "Nothing to undo."
        state["data"] = state["history"].pop()
        save(chat, state)
        return "Undone. {} earlier version{} left.".format(
            len(state["history"]), "" if len(state["history"]) == 1 else "s")
    if verb == "set" and keys and value.strip():
        remember(state)
        node = state["data"]
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[keys[-1]] = parse_value(value.strip())
        save(chat, state)
        return "{} = {!r}".format(".".join(keys), node[keys[-1]])
    if verb == "del" and keys:
        snapshot = copy.deepcopy(state["data"])
        node = state["data"]
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or keys[-1] not in node:
            return "Nothing at {}.".format(".".join(keys))
        del node[keys[-1]]
        state["history"].append(snapshot)
        del state["history"][:-HISTORY]
        save(chat, state)
        return "Deleted {}.".format(".".join(keys))
    return USAGE
