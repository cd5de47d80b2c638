"""Days until a date, and what weekday it falls on."""
import datetime

import pyward

FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y")


def parse_date(text):
    for fmt in FORMATS:
        try:
            return datetime.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError("use YYYY-MM-DD, DD.MM.YYYY or DD/MM/YYYY")


def days_until(target, today):
    return (target - today).days


@pyward.command("until", security="everyone", help="until 2027-01-01")
def until(event, args):
    try:
        target = parse_date(args)
    except ValueError as error:
        return str(error)
    today = datetime.date.today()
    days = days_until(target, today)
    weekday = target.strftime("%A")
    if days == 0:
        return "That is today ({})".format(weekday)
    if days < 0:
        return "{} was {} days ago, a {}".format(target.isoformat(), -days, weekday)
    return "{} days until {} (a {})".format(days, target.isoformat(), weekday)
