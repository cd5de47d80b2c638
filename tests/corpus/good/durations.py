"""Parses human durations like '1h 30m' for reminder modules."""
# call: duration "1h 30m" => "1 hour, 30 minutes"
# call: duration "soon" => "say something like 1h 30m"
import re

import pyward

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PART = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)


def parse_duration(text):
    total, matched = 0, 0
    for amount, unit in PART.findall(text):
        total += int(amount) * UNITS[unit.lower()]
        matched += 1
    if not matched:
        raise ValueError("say something like 1h 30m")
    return total


def describe(seconds):
    parts = []
    for name, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append("{} {}{}".format(amount, name, "" if amount == 1 else "s"))
    return ", ".join(parts) or "no time"


@pyward.command("duration", security="everyone", help="duration 1h 30m")
def duration(event, args):
    try:
        return describe(parse_duration(args))
    except ValueError as error:
        return str(error)
