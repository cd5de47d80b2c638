"""Announcements with shell-style options: announce --title "Big news" --pin TEXT."""
# call: announce "--title \"Server maintenance\" --when 'Sat 22:00 UTC' --tag ops --tag infra Expect short outages." => "📢 Server maintenance\nWhen: Sat 22:00 UTC\nExpect short outages.\n#ops #infra"
# call: announce "--title \"Unclosed quote" => "Your quotes are not balanced."
# call: announce "--colour red Hello" => "Unknown option --colour. Options: --title TEXT, --when TEXT, --tag TAG (repeatable), --pin"
# call: command_line [["announce", "--title", "It's done", "--pin", "Go & see"]] => "announce --title 'It'\"'\"'s done' --pin 'Go & see'"
import shlex

import pyward

OPTIONS_HELP = "--title TEXT, --when TEXT, --tag TAG (repeatable), --pin"
VALUE_OPTIONS = {"--title", "--when", "--tag"}


def parse_options(text):
    words = shlex.split(text)
    options = {"tags": [], "pin": False, "body": []}
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--pin":
            options["pin"] = True
        elif word in VALUE_OPTIONS:
            if index + 1 >= len(words):
                raise LookupError("{} needs a value".format(word))
            index += 1
            if word == "--tag":
                options["tags"].append(words[index].lstrip("#"))
            else:
                options[word[2:]] = words[index]
        elif word.startswith("--"):
            raise LookupError("Unknown option {}. Options: {}".format(word, OPTIONS_HELP))
        else:
            options["body"].append(word)
        index += 1
    return options


@pyward.command("announce", security="sudo", help="announce [--title T] [--when W] [--tag X] [--pin] TEXT")
def announce(event, args):
    try:
        options = parse_options(args)
    except ValueError:
        return "Your quotes are not balanced."
    except LookupError as problem:
        return str(problem)
    if not options["body"] and "title" not in options:
        return "Usage: announce [--title T] [--when W] [--tag X] [--pin] TEXT"
    lines = ["📢 " + options.get("title", "Announcement")]
    if "when" in options:
        lines.append("When: " + options["when"])
    if options["body"]:
        lines.append(" ".join(options["body"]))
    if options["tags"]:
        lines.append(" ".join("#" + tag for tag in options["tags"]))
    if options["pin"]:
        pyward.log("pin requested by " + event["sender"])
        lines.append("(pinned)")
    return "\n".join(lines)


def command_line(words):
    """Pipeline step: words back into a command line that shlex.split would read the same."""
    return " ".join(shlex.quote(w) for w in words)
