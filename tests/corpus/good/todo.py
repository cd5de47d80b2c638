"""A shared todo list per room, saved through a small transaction helper (contextlib)."""
# call: todo "list" => "Nothing to do!"
# call: todo "add Water the plants" => "Added #1: Water the plants"
# call: todo "add Book the venue" => "Added #2: Book the venue"
# call: todo "done 1" => "Done: Water the plants (1 open)"
# call: todo "list" => "1. [x] Water the plants\n2. [ ] Book the venue (@alice:example.org)"
import contextlib

import pyward

USAGE = "Usage: todo add TEXT | todo done N | todo undo N | todo list | todo clear"
MAX_ITEMS = 100


class Rollback(Exception):
    """Raised inside a transaction to leave the stored list untouched."""


@contextlib.contextmanager
def todo_list(chat):
    """Load the list, let the caller change it, and save it only if nothing went wrong."""
    items = pyward.kv_get("todo:" + chat, [])
    try:
        yield items
    except Rollback:
        return
    pyward.kv_set("todo:" + chat, items)


def pick(items, text):
    if not text.strip().isdigit() or not 1 <= int(text) <= len(items):
        raise Rollback()
    return items[int(text) - 1]


@pyward.command("todo", security="everyone", help=USAGE)
def todo(event, args):
    verb, _, rest = args.strip().partition(" ")
    reply = USAGE
    with todo_list(event["chat"]) as items:
        if verb == "list":
            reply = "\n".join("{}. [{}] {}{}".format(
                i + 1, "x" if t["done"] else " ", t["text"], "" if t["done"] else " (" + t["by"] + ")")
                for i, t in enumerate(items)) or "Nothing to do!"
            raise Rollback()
        if verb == "add" and rest.strip():
            if len(items) >= MAX_ITEMS:
                reply = "The list is full; clear some items first."
                raise Rollback()
            items.append({"text": rest.strip(), "done": False, "by": event["sender"]})
            reply = "Added #{}: {}".format(len(items), rest.strip())
        elif verb in ("done", "undo"):
            reply = "There is no item #{}.".format(rest.strip())
            item = pick(items, rest)
            item["done"] = verb == "done"
            still_open = sum(1 for t in items if not t["done"])
            reply = "{}: {} ({} open)".format("Done" if item["done"] else "Reopened", item["text"], still_open)
        elif verb == "clear":
            before = len(items)
            items[:] = [t for t in items if not t["done"]]
            reply = "Cleared {} finished item(s).".format(before - len(items))
        else:
            raise Rollback()
    return reply
