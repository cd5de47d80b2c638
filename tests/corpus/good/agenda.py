"""Room agenda: events kept in time order, with next-up lookups and the busiest days."""
# call: agenda "add tomorrow lunch" => "Usage: agenda add YYYY-MM-DD HH:MM TITLE | agenda after YYYY-MM-DD HH:MM [N] | agenda busiest | agenda list"
# call: agenda "add 2024-05-02 14:30 Sprint review" => "Added Sprint review on Thu 2024-05-02 14:30 (1 event in the agenda)."
# call: agenda "add 2024-05-02 09:00 Standup" => "Added Standup on Thu 2024-05-02 09:00 (2 events in the agenda)."
# call: agenda "add 2024-05-03 10:00 Retro" => "Added Retro on Fri 2024-05-03 10:00 (3 events in the agenda)."
# call: agenda "after 2024-05-02 12:00 5" => "Next up:\nThu 2024-05-02 14:30  Sprint review\nFri 2024-05-03 10:00  Retro"
import bisect
import datetime
import heapq
import re

import pyward

USAGE = ("Usage: agenda add YYYY-MM-DD HH:MM TITLE | agenda after YYYY-MM-DD HH:MM [N]"
         " | agenda busiest | agenda list")
WHEN = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})(?: (.*))?$")
MAX_EVENTS = 200


def parse_when(text):
    match = WHEN.match(" ".join(text.split()))
    if not match:
        return None, None
    stamp = match.group(1) + " " + match.group(2)
    try:
        datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M")
    except ValueError:
        return None, None
    return stamp, (match.group(3) or "").strip()


def pretty(stamp):
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M").strftime("%a %Y-%m-%d %H:%M")


@pyward.command("agenda", security="everyone", help=USAGE)
def agenda(event, args):
    key = "agenda:" + event["chat"]
    events = pyward.kv_get(key, [])
    verb, _, rest = args.strip().partition(" ")
    if verb == "add":
        stamp, title = parse_when(rest)
        if stamp is None or not title:
            return USAGE
        if len(events) >= MAX_EVENTS:
            return "The agenda is full."
        bisect.insort(events, [stamp, title])
        pyward.kv_set(key, events)
        count = len(events)
        return "Added {} on {} ({} event{} in the agenda).".format(
            title, pretty(stamp), count, "" if count == 1 else "s")
    if verb == "after":
        stamp, extra = parse_when(rest)
        if stamp is None or (extra and not extra.isdigit()):
            return USAGE
        first = bisect.bisect_left(events, [stamp])
        upcoming = events[first:first + min(int(extra or 3), 10)]
        if not upcoming:
            return "Nothing planned after {}.".format(pretty(stamp))
        return "Next up:\n" + "\n".join("{}  {}".format(pretty(s), t) for s, t in upcoming)
    if verb == "busiest":
        per_day = {}
        for stamp, _ in events:
            per_day[stamp[:10]] = per_day.get(stamp[:10], 0) + 1
        top = heapq.nlargest(3, per_day.items(), key=lambda item: (item[1], item[0]))
        return "\n".join("{}: {} event{}".format(day, n, "" if n == 1 else "s") for day, n in top) or "The agenda is empty."
    if verb == "list":
        return "\n".join("{}  {}".format(pretty(s), t) for s, t in events) or "The agenda is empty."
    return USAGE
