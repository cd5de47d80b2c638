"""Reminders with type annotations that refer to classes defined further down."""
from __future__ import annotations

import datetime
import json
import re

import pyward

DURATION = re.compile(r"^(\d+)\s*(m|min|h|d)\s+(.+)$")
UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400}


def parse(args: str, now: datetime.datetime) -> Reminder | None:
    match = DURATION.match(args.strip())
    if match is None:
        return None
    seconds = int(match.group(1)) * UNITS[match.group(2)]
    return Reminder(now + datetime.timedelta(seconds=seconds), match.group(3))


class Reminder:
    def __init__(self, due: datetime.datetime, text: str) -> None:
        self.due = due
        self.text = text

    def to_json(self) -> list[str]:
        return [self.due.isoformat(), self.text]

    @classmethod
    def from_json(cls, item: list[str]) -> Reminder:
        return cls(datetime.datetime.fromisoformat(item[0]), item[1])


@pyward.command("remind", security="everyone", help="remind 10m TEXT | remind list")
def remind(event, args):
    key = "remind:" + event["chat"]
    saved = [Reminder.from_json(i) for i in json.loads(pyward.kv_get(key, "[]") or "[]")]
    if args.strip() == "list":
        return "\n".join("{:%H:%M} {}".format(r.due, r.text) for r in saved) or "No reminders."
    reminder = parse(args, datetime.datetime.now(datetime.timezone.utc))
    if reminder is None:
        return "Usage: remind 10m TEXT | remind list"
    saved.append(reminder)
    pyward.kv_set(key, json.dumps([r.to_json() for r in saved]))
    return "I will remind you at {:%H:%M} UTC: {}".format(reminder.due, reminder.text)
