"""Calendar helpers: print a month, name a weekday, count working days."""
# call: cal "2024 2" => "```\n   February 2024\nMo Tu We Th Fr Sa Su\n          1  2  3  4\n 5  6  7  8  9 10 11\n12 13 14 15 16 17 18\n19 20 21 22 23 24 25\n26 27 28 29\n```"
# call: cal "2024 13" => "Usage: cal YEAR MONTH (month 1-12, year 1-9999)"
# call: weekday "2024-02-29" => "2024-02-29 is a Thursday: day 60 of 366, ISO week 9."
# call: weekday "2023-02-29" => "2023-02-29 is not a date."
# call: working_days ["2024-12-20", "2025-01-03", ["2024-12-25", "2024-12-26", "2025-01-01"]] => 8
import calendar
import datetime

import pyward

DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def parse_day(text):
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        return None


@pyward.command("cal", security="everyone", help="cal YEAR MONTH")
def cal(event, args):
    words = args.split()
    if len(words) != 2 or not all(w.isdigit() for w in words):
        return "Usage: cal YEAR MONTH (month 1-12, year 1-9999)"
    year, month = int(words[0]), int(words[1])
    if not (1 <= month <= 12 and 1 <= year <= 9999):
        return "Usage: cal YEAR MONTH (month 1-12, year 1-9999)"
    text = calendar.TextCalendar(calendar.MONDAY).formatmonth(year, month)
    lines = [line.rstrip() for line in text.rstrip("\n").splitlines()]
    return "```\n" + "\n".join(lines) + "\n```"


@pyward.command("weekday", security="everyone", help="weekday YYYY-MM-DD")
def weekday(event, args):
    day = parse_day(args)
    if day is None:
        return "{} is not a date.".format(args.strip() or "Nothing")
    length = 366 if calendar.isleap(day.year) else 365
    ordinal = day.timetuple().tm_yday
    return "{} is a {}: day {} of {}, ISO week {}.".format(
        day.isoformat(), DAY_NAMES[calendar.weekday(day.year, day.month, day.day)],
        ordinal, length, day.isocalendar()[1])


def working_days(first, last, holidays=()):
    """Pipeline step: Monday-to-Friday days from first to last inclusive, minus holidays."""
    first, last = parse_day(first), parse_day(last)
    if first is None or last is None or last < first:
        raise ValueError("give two ISO dates in order")
    skip = {parse_day(h) for h in holidays}
    count = 0
    day = first
    while day <= last:
        if day.weekday() < 5 and day not in skip:
            count += 1
        day += datetime.timedelta(days=1)
    return count


def month_grid(year, month):
    """Pipeline step: the month as weeks of day numbers (0 outside the month)."""
    return calendar.Calendar(calendar.MONDAY).monthdayscalendar(int(year), int(month))
