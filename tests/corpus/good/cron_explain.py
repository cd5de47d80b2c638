"""Cron expression explainer: plain English for '*/15 9-17 * * 1-5', and the next run times."""
# call: cron "*/15 9-17 * * 1-5" => "Every 15 minutes, past hours 9-17, on Monday-Friday."
# call: cron "30 4 1 * *" => "At minute 30, past hour 4, on day 1 of the month."
# call: cron "0 12 * *" => "A cron expression has 5 fields: minute hour day-of-month month day-of-week."
# call: cron "61 * * * *" => "Field minute: 61 is out of range 0-59."
# call: next_runs ["0 9 * * 1", "2024-05-01T10:00", 3] => ["2024-05-06T09:00", "2024-05-13T09:00", "2024-05-20T09:00"]
import calendar
import datetime

import pyward

FIELDS = [("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7)]
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
USAGE = "A cron expression has 5 fields: minute hour day-of-month month day-of-week."


def expand(text, name, low, high):
    values = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = (int(x) for x in base.split("-", 1))
        else:
            first = int(base)
            last = high if step else first
        for value in (first, last):
            if not low <= value <= high:
                raise ValueError("Field {}: {} is out of range {}-{}.".format(name, value, low, high))
        if first > last:
            raise ValueError("Field {}: the range {} runs backwards.".format(name, base))
        values.update(range(first, last + 1, int(step) if step else 1))
    if name == "weekday":
        values = {v % 7 for v in values}
    return sorted(values)


def parse(expression):
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(USAGE)
    try:
        return [expand(p, n, lo, hi) for p, (n, lo, hi) in zip(parts, FIELDS)]
    except (TypeError, ValueError) as error:
        raise ValueError(str(error) if "Field" in str(error) else USAGE)


def phrase(values, low, high, names=None):
    label = (lambda v: names[v]) if names else str
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return "{}-{}".format(label(values[0]), label(values[-1]))
    words = [label(v) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@pyward.command("cron", security="everyone", help="cron MIN HOUR DOM MON DOW")
def cron(event, args):
    try:
        minutes, hours, days, months, weekdays = parse(args)
    except ValueError as error:
        return str(error)
    gaps = {b - a for a, b in zip(minutes, minutes[1:])}
    if len(minutes) == 60:
        text = "Every minute"
    elif len(minutes) > 2 and minutes[0] == 0 and len(gaps) == 1 and 60 % gaps.pop() == 0:
        text = "Every {} minutes".format(minutes[1])
    else:
        text = "At minute{} {}".format("s" if len(minutes) > 1 else "", phrase(minutes, 0, 59))
    if len(hours) < 24:
        text += ", past hour{} {}".format("s" if len(hours) > 1 else "", phrase(hours, 0, 23))
    if len(days) < 31:
        text += ", on day{} {} of the month".format("s" if len(days) > 1 else "", phrase(days, 1, 31))
    if len(months) < 12:
        text += ", in " + phrase(months, 1, 12, list(calendar.month_name))
    if len(weekdays) < 7:
        text += (", or on " if len(days) < 31 else ", on ") + phrase(weekdays, 0, 6, WEEKDAYS)
    return text + "."


def next_runs(expression, after, count=5):
    """Pipeline step: the next COUNT times (ISO, minute precision) the expression fires."""
    minutes, hours, days, months, weekdays = parse(expression)
    moment = datetime.datetime.fromisoformat(after).replace(second=0, microsecond=0)
    found = []
    day = moment.date()
    for _ in range(366 * 4):
        cron_weekday = (day.weekday() + 1) % 7
        if len(days) < 31 and len(weekdays) < 7:
            wanted = day.day in days or cron_weekday in weekdays
        else:
            wanted = day.day in days and cron_weekday in weekdays
        if day.month in months and wanted:
            for hour in hours:
                for minute in minutes:
                    candidate = datetime.datetime(day.year, day.month, day.day, hour, minute)
                    if candidate > moment and len(found) < int(count):
                        found.append(candidate.isoformat(timespec="minutes"))
        if len(found) >= int(count):
            break
        day += datetime.timedelta(days=1)
    return found
