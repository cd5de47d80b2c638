"""`.fmt json {...}`, `.fmt date 2026-11-22`, `.fmt words TEXT`: small text utilities."""
import datetime
import json
import re

import pyward


@pyward.command("fmt", security="everyone", help="fmt json|date|words ...")
def fmt(event, args):
    kind, _, rest = args.partition(" ")
    if kind == "json":
        try:
            return json.dumps(json.loads(rest), indent=2, sort_keys=True)
        except ValueError as error:
            return "not JSON: {}".format(error)
    if kind == "date":
        try:
            day = datetime.date.fromisoformat(rest.strip())
        except ValueError:
            return "dates look like 2026-11-22"
        return day.strftime("%A %d %B %Y")
    if kind == "words":
        words = re.findall(r"[A-Za-z']+", rest)
        return "{} words, longest: {}".format(len(words), max(words, key=len) if words else "-")
    return "usage: .fmt json|date|words ..."
