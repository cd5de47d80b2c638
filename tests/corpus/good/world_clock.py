"""World clock: show a meeting time in every team member's time zone."""
# call: meet "" => "Usage: meet YYYY-MM-DD HH:MM Area/City"
# call: meet "2024-07-01 09:30 Europe/Berlin" => "Mon 2024-07-01 09:30 in Europe/Berlin is:\nLos Angeles  Mon 00:30  UTC-07:00\nNew York     Mon 03:30  UTC-04:00\nLondon       Mon 08:30  UTC+01:00\nBerlin       Mon 09:30  UTC+02:00\nKolkata      Mon 13:00  UTC+05:30\nTokyo        Mon 16:30  UTC+09:00\nSydney       Mon 17:30  UTC+10:00"
# call: meet "2024-12-31 18:00 America/New_York" => "Tue 2024-12-31 18:00 in America/New_York is:\nLos Angeles  Tue 15:00  UTC-08:00\nNew York     Tue 18:00  UTC-05:00\nLondon       Tue 23:00  UTC+00:00\nBerlin       Wed 00:00  UTC+01:00 (next day)\nKolkata      Wed 04:30  UTC+05:30 (next day)\nTokyo        Wed 08:00  UTC+09:00 (next day)\nSydney       Wed 10:00  UTC+11:00 (next day)"
# call: meet "2024-07-01 09:30 Mars/Olympus_Mons" => "Unknown time zone: Mars/Olympus_Mons"
# call: convert ["2024-03-10T12:00:00+00:00", "America/Chicago"] => "2024-03-10T07:00:00-05:00"
import datetime
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyward

TEAM = [
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
]
REQUEST = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2})\s+([A-Za-z_]+(?:/[A-Za-z_+-]+)*)$")


def find_zone(name):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def utc_offset(moment):
    minutes = int(moment.utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return "UTC{}{:02d}:{:02d}".format(sign, abs(minutes) // 60, abs(minutes) % 60)


@pyward.command("meet", security="everyone", help="meet 2024-07-01 09:30 Europe/Berlin")
def meet(event, args):
    match = REQUEST.match(args.strip())
    if not match:
        return "Usage: meet YYYY-MM-DD HH:MM Area/City"
    day, clock, zone_name = match.groups()
    zone = find_zone(zone_name)
    if zone is None:
        return "Unknown time zone: " + zone_name
    try:
        local = datetime.datetime.fromisoformat(day + "T" + clock.zfill(5)).replace(tzinfo=zone)
    except ValueError:
        return "That date or time does not exist."
    round_trip = local.astimezone(datetime.timezone.utc).astimezone(zone)
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
        return "{} {} does not exist in {} (the clocks skip it).".format(day, clock, zone_name)
    lines = ["{} in {} is:".format(local.strftime("%a %Y-%m-%d %H:%M"), zone_name)]
    for name in TEAM:
        there = local.astimezone(ZoneInfo(name))
        shift = (there.date() - local.date()).days
        note = {-1: " (previous day)", 0: "", 1: " (next day)"}[shift]
        city = name.split("/")[-1].replace("_", " ")
        lines.append("{:<12} {}  {}{}".format(city, there.strftime("%a %H:%M"), utc_offset(there), note))
    return "\n".join(lines)


def convert(moment, zone_name):
    """Pipeline step: an ISO timestamp with offset, re-expressed in another zone."""
    zone = find_zone(zone_name)
    if zone is None:
        raise ValueError("unknown time zone " + zone_name)
    return datetime.datetime.fromisoformat(moment).astimezone(zone).isoformat()
