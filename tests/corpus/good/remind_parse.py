"""Reminder parser: understands 'in 1h30m ...', 'at 14:00 ...' and 'tomorrow at 9 ...'."""
# call: parse_reminder ["in 1h30m to stretch", "2024-05-01T10:00:00+00:00"] => {"due": "2024-05-01T11:30:00+00:00", "message": "stretch", "seconds": 5400}
# call: parse_reminder ["at 09:15 standup", "2024-05-01T10:00:00+00:00"] => {"due": "2024-05-02T09:15:00+00:00", "message": "standup", "seconds": 83700}
# call: remindme "in 20 minutes check the oven" => "OK @alice:example.org, in 20m: check the oven"
# call: remindme "sometime soon" => "Usage: remindme in 1h30m TEXT | remindme at HH:MM TEXT | remindme tomorrow at H[:MM] TEXT"
# call: reminders "" ~ "check the oven"
import datetime
import re
import time

import pyward

UNITS = {"d": 86400, "day": 86400, "days": 86400, "h": 3600, "hour": 3600, "hours": 3600,
         "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "s": 1, "sec": 1, "seconds": 1}
RELATIVE = re.compile(r"^in\s+((?:\d+\s*[a-z]+\s*)+?)\s+(?:to\s+)?(.+)$", re.IGNORECASE)
PIECE = re.compile(r"(\d+)\s*([a-z]+)", re.IGNORECASE)
ABSOLUTE = re.compile(r"^(tomorrow\s+)?at\s+(\d{1,2})(?::(\d{2}))?\s+(?:to\s+)?(.+)$", re.IGNORECASE)
USAGE = "Usage: remindme in 1h30m TEXT | remindme at HH:MM TEXT | remindme tomorrow at H[:MM] TEXT"


def parse_reminder(text, now):
    """Pipeline step: when a reminder is due, relative to now (an ISO timestamp)."""
    now = datetime.datetime.fromisoformat(now) if isinstance(now, str) else now
    text = " ".join(text.split())
    match = RELATIVE.match(text)
    if match:
        seconds = 0
        for amount, unit in PIECE.findall(match.group(1)):
            if unit.lower() not in UNITS:
                return None
            seconds += int(amount) * UNITS[unit.lower()]
        due = now + datetime.timedelta(seconds=seconds)
        return {"due": due.isoformat(), "message": match.group(2), "seconds": seconds}
    match = ABSOLUTE.match(text)
    if match:
        hour, minute = int(match.group(2)), int(match.group(3) or 0)
        if hour > 23 or minute > 59:
            return None
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if match.group(1) or due <= now:
            due += datetime.timedelta(days=1)
        seconds = int((due - now).total_seconds())
        return {"due": due.isoformat(), "message": match.group(4), "seconds": seconds}
    return None


def spell(seconds):
    parts = []
    for label, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append("{}{}".format(seconds // size, label))
            seconds %= size
    return "".join(parts) or "0s"


@pyward.command("remindme", security="everyone", help=USAGE)
def remindme(event, args):
    now = datetime.datetime.now(datetime.timezone.utc)
    parsed = parse_reminder(args, now)
    if parsed is None or not 0 < parsed["seconds"] <= 30 * 86400:
        return USAGE
    key = "reminders:" + event["sender"]
    pending = pyward.kv_get(key, [])
    pending.append({"at": time.time() + parsed["seconds"], "text": parsed["message"], "chat": event["chat"]})
    pyward.kv_set(key, pending[-20:])
    return "OK {}, in {}: {}".format(event["sender"], spell(parsed["seconds"]), parsed["message"])


@pyward.command("reminders", security="everyone", help="reminders: yours, soonest first")
def reminders(event, args):
    pending = sorted(pyward.kv_get("reminders:" + event["sender"], []), key=lambda r: r["at"])
    if not pending:
        return "You have no reminders."
    now = time.time()
    return "\n".join("in {}: {}".format(spell(max(0, int(r["at"] - now))), r["text"]) for r in pending)
