"""`.note add TEXT`, `.note list`, `.note clear`: notes per chat, in the module's own storage."""
import json

import pyward


def _notes(chat):
    return json.loads(pyward.kv_get("notes/" + chat) or "[]")


@pyward.command("note", security="everyone", help="note add TEXT | note list")
def note(event, args):
    verb, _, text = args.partition(" ")
    notes = _notes(event["chat"])
    if verb == "add" and text:
        notes.append("{} (by {})".format(text, event["sender"]))
        pyward.kv_set("notes/" + event["chat"], json.dumps(notes))
        return "noted ({} so far)".format(len(notes))
    if verb == "list":
        return "\n".join("- " + n for n in notes) if notes else "no notes"
    return "usage: .note add TEXT | .note list"


@pyward.command("clear-notes", security="sudo", help="Forget this chat's notes")
def clear_notes(event, args):
    pyward.kv_delete("notes/" + event["chat"])
    pyward.log("notes cleared in {} by {}".format(event["chat"], event["sender"]))
    return "notes cleared"
