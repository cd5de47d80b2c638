"""Notes kept per chat in the module's own key-value store."""
import json

import pyward

MAX_NOTES = 50


def _load(chat):
    raw = pyward.kv_get("notes:" + chat, "[]")
    return json.loads(raw)


@pyward.command("note", security="everyone", help="note add TEXT | note list | note del N")
def note(event, args):
    chat = event["chat"]
    notes = _load(chat)
    verb, _, rest = args.partition(" ")
    if verb == "add" and rest.strip():
        if len(notes) >= MAX_NOTES:
            return "Too many notes, delete some first."
        notes.append({"by": event["sender"], "text": rest.strip()})
        pyward.kv_set("notes:" + chat, json.dumps(notes))
        return "Saved note #{}".format(len(notes))
    if verb == "list":
        if not notes:
            return "No notes yet."
        return "\n".join("{}. {} ({})".format(i + 1, n["text"], n["by"]) for i, n in enumerate(notes))
    if verb == "del" and rest.strip().isdigit():
        index = int(rest) - 1
        if 0 <= index < len(notes):
            removed = notes.pop(index)
            pyward.kv_set("notes:" + chat, json.dumps(notes))
            return "Deleted: " + removed["text"]
        return "No note #" + rest.strip()
    return "Usage: note add TEXT | note list | note del N"
