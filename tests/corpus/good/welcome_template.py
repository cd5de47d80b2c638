"""Custom welcome messages per room, with $placeholders filled in by string.Template."""
# call: welcomepreview "Bob" => "Welcome, Bob! Say hi in !room:example.org."
# call: setwelcome "Hi $name, you are member #$count of $room. Read the ${rules}!" => "Unknown placeholder: $rules. Use $name, $room, $count, $sender."
# call: setwelcome "Hi $name, you are member #$count of $room. Costs $$0 to join." => "Saved. Preview:\nHi Newcomer, you are member #1 of !room:example.org. Costs $0 to join."
# call: welcomepreview "Bob" => "Hi Bob, you are member #1 of !room:example.org. Costs $0 to join."
# call: greet {"template": "Hello $name and $friend", "name": "Zoe"} => "Hello Zoe and $friend"
import string

import pyward

DEFAULT = "Welcome, $name! Say hi in $room."
PLACEHOLDERS = ("name", "room", "count", "sender")
MAX_LENGTH = 500


def check(text):
    template = string.Template(text)
    if not template.is_valid():
        return "A $ sign must start a placeholder like $name, or be doubled ($$)."
    unknown = [n for n in template.get_identifiers() if n not in PLACEHOLDERS]
    if unknown:
        return "Unknown placeholder: ${}. Use {}.".format(unknown[0], ", ".join("$" + p for p in PLACEHOLDERS))
    return None


def greet(template, **values):
    """Pipeline step: fill a template; placeholders without a value are left as they are."""
    return string.Template(template).safe_substitute(values)


def render(event, text, name, count):
    return greet(text, name=name, room=event["chat"], count=str(count), sender=event["sender"])


@pyward.command("setwelcome", security="sudo", help="setwelcome TEXT with $name $room $count $sender")
def setwelcome(event, args):
    text = args.strip()
    if not text:
        pyward.kv_delete("welcome:" + event["chat"])
        return "Back to the default welcome."
    if len(text) > MAX_LENGTH:
        return "Keep it under {} characters.".format(MAX_LENGTH)
    problem = check(text)
    if problem:
        return problem
    pyward.kv_set("welcome:" + event["chat"], text)
    return "Saved. Preview:\n" + render(event, text, "Newcomer", 1)


@pyward.command("welcomepreview", security="everyone", help="welcomepreview [NAME]")
def welcomepreview(event, args):
    text = pyward.kv_get("welcome:" + event["chat"], DEFAULT)
    count = pyward.kv_get("members:" + event["chat"], 0) + 1
    return render(event, text, args.strip() or string.capwords(event["sender"].lstrip("@").partition(":")[0]), count)
