"""Did-you-mean for mistyped commands, plus text diffs for edited messages."""
# call: whatis "roll" => "roll: roll dice, e.g. roll 2d6"
# call: whatis "remnid" => "There is no command remnid. Did you mean: remind?"
# call: whatis "xyzzy" => "There is no command xyzzy, and nothing close. Try: whatis list"
# call: changes ["Meet at 5pm\nBring snacks", "Meet at 6pm\nBring snacks\nRSVP by Friday"] => "-Meet at 5pm\n+Meet at 6pm\n Bring snacks\n+RSVP by Friday"
# call: similarity ["colour", "color"] => 0.909
import difflib

import pyward

CATALOG = {
    "roll": "roll dice, e.g. roll 2d6",
    "role": "show or change your role in the room",
    "remind": "set a reminder, e.g. remind in 10m tea",
    "rules": "show the room rules",
    "poll": "start a poll",
    "vote": "vote in the running poll",
    "quote": "quote a message",
    "quiz": "ask a quiz question",
    "weather": "today's forecast for a city",
    "welcome": "greet a newcomer",
}


@pyward.command("whatis", security="everyone", help="whatis COMMAND")
def whatis(event, args):
    name = args.strip().lower().lstrip("!/")
    if not name:
        return "Usage: whatis COMMAND"
    if name == "list":
        return "Commands: " + ", ".join(sorted(CATALOG))
    if name in CATALOG:
        return "{}: {}".format(name, CATALOG[name])
    guesses = difflib.get_close_matches(name, CATALOG, n=3, cutoff=0.6)
    if not guesses:
        return "There is no command {}, and nothing close. Try: whatis list".format(name)
    return "There is no command {}. Did you mean: {}?".format(name, " or ".join(guesses))


def changes(old, new):
    """Pipeline step: what changed between two versions of a message, line by line."""
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1)
    lines = [line for line in diff if not line.startswith(("---", "+++", "@@"))]
    return "\n".join(lines)


def similarity(first, second):
    """Pipeline step: how alike two strings are, from 0 to 1."""
    return round(difflib.SequenceMatcher(None, first.lower(), second.lower()).ratio(), 3)


def closest(word, candidates, limit=3):
    """Pipeline step: the candidates that look most like word, best first."""
    return difflib.get_close_matches(word, candidates, n=int(limit), cutoff=0.5)
