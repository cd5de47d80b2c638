"""Text layout helpers: wrap to a width, quote a block, shorten for previews."""
# call: wrap "" => "Usage: wrap WIDTH TEXT (WIDTH from 10 to 120)"
# call: wrap "24 The quick brown fox jumps over the lazy dog and keeps running." => "```\nThe quick brown fox\njumps over the lazy dog\nand keeps running.\n```"
# call: blockquote "First line\n\nSecond paragraph here" => "> First line\n\n> Second paragraph here"
# call: preview ["Meeting notes: we agreed to ship the release on Friday after the final review.", 40] => "Meeting notes: we agreed to ship [...]"
# call: card {"title": "Rules", "body": "    Be kind.\n    No spam.\n"} => "== Rules ==\n  Be kind.\n  No spam."
import textwrap

import pyward


@pyward.command("wrap", security="everyone", help="wrap WIDTH TEXT")
def wrap(event, args):
    width, _, text = args.strip().partition(" ")
    if not width.isdigit() or not 10 <= int(width) <= 120 or not text.strip():
        return "Usage: wrap WIDTH TEXT (WIDTH from 10 to 120)"
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    wrapped = [textwrap.fill(" ".join(p.split()), width=int(width)) for p in paragraphs]
    return "```\n" + "\n\n".join(wrapped) + "\n```"


@pyward.command("blockquote", security="everyone", help="blockquote TEXT: quote a block, markdown style")
def blockquote(event, args):
    if not args.strip():
        return "Nothing to quote."
    return textwrap.indent(args.strip(), "> ")


def preview(text, width=60):
    """Pipeline step: a one-line preview that never cuts a word in half."""
    return textwrap.shorten(text, width=int(width), placeholder=" [...]")


def card(title, body, indent=2):
    """Pipeline step: a titled block with the body's common indentation replaced."""
    inner = textwrap.dedent(body).strip("\n")
    return "== {} ==\n{}".format(title, textwrap.indent(inner, " " * int(indent)))


def hanging(label, text, width=50):
    """Pipeline step: a label followed by text wrapped with a hanging indent."""
    prefix = label + ": "
    return textwrap.fill(text, width=int(width), initial_indent=prefix,
                         subsequent_indent=" " * len(prefix))
