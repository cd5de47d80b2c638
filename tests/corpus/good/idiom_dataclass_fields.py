"""Daily stand-up notes as dataclasses, printed as a table from the fields they declare."""
import dataclasses
import json

import pyward


@dataclasses.dataclass
class Update:
    who: str
    done: str
    next: str
    blocked: bool = False


def as_row(update):
    return [str(getattr(update, f.name)) for f in dataclasses.fields(update)]


def as_table(updates):
    header = [f.name for f in dataclasses.fields(Update)]
    rows = [header] + [as_row(u) for u in updates]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(" | ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows)


def load(chat):
    return [Update(**u) for u in json.loads(pyward.kv_get("standup:" + chat, "[]") or "[]")]


@pyward.command("standup", security="everyone", help="standup DONE; NEXT[; blocked] | standup show")
def standup(event, args):
    chat = event["chat"]
    updates = load(chat)
    if args.strip() == "show":
        return as_table(updates) if updates else "No updates yet."
    parts = [p.strip() for p in args.split(";")]
    if len(parts) < 2:
        return "Usage: standup DONE; NEXT[; blocked] | standup show"
    update = Update(event["sender"], parts[0], parts[1], parts[2:] == ["blocked"])
    updates = [u for u in updates if u.who != update.who] + [update]
    pyward.kv_set("standup:" + chat, json.dumps([dataclasses.asdict(u) for u in updates]))
    return "Noted: " + " | ".join(as_row(update))
