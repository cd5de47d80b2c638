"""Renders rows as a fixed-width text table."""
import json

import pyward


def render(rows, columns):
    widths = [len(c) for c in columns]
    for row in rows:
        for i, column in enumerate(columns):
            widths[i] = max(widths[i], len(str(row.get(column, ""))))
    line = "+".join("-" * (w + 2) for w in widths)
    header = "|".join(" {} ".format(c.ljust(widths[i])) for i, c in enumerate(columns))
    body = [
        "|".join(" {} ".format(str(row.get(c, "")).ljust(widths[i])) for i, c in enumerate(columns))
        for row in rows
    ]
    return "\n".join([header, line] + body)


@pyward.command("table", security="everyone", help='table [{"a": 1}, {"a": 2}]')
def table(event, args):
    try:
        rows = json.loads(args)
    except ValueError:
        return "Give me a JSON list of objects."
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return "Give me a JSON list of objects."
    columns = sorted({key for row in rows for key in row})
    return "```\n" + render(rows, columns) + "\n```"
