"""Tip calculator: a table of common tips, or one tip split between people."""
# call: tip "" => "Usage: tip AMOUNT [PERCENT [PEOPLE]]"
# call: tip "48.50" => "Tips on 48.50:\n 10%   4.85 ->  53.35\n 15%   7.28 ->  55.78\n 18%   8.73 ->  57.23\n 20%   9.70 ->  58.20\n 25%  12.13 ->  60.63"
# call: tip "48.50 18 2" => "18% tip on 48.50 is 8.73, total 57.23: 28.62 each for 2 people (rounded up to the cent)."
# call: tip "48.50 150" => "A tip of 150% looks like a typo; give 0 to 100."
import decimal
from decimal import Decimal

import pyward

COMMON = (10, 15, 18, 20, 25)
CENT = Decimal("0.01")


def money(value, rounding=decimal.ROUND_HALF_UP):
    return value.quantize(CENT, rounding=rounding)


def parse_amount(text):
    try:
        amount = Decimal(text.lstrip("$").replace(",", "."))
    except decimal.InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    return amount


def tip_line(amount, percent):
    with decimal.localcontext() as context:
        context.prec = 28
        tip = money(amount * percent / 100)
    return tip, money(amount) + tip


@pyward.command("tip", security="everyone", help="tip AMOUNT [PERCENT [PEOPLE]]")
def tip(event, args):
    words = args.split()
    if not 1 <= len(words) <= 3:
        return "Usage: tip AMOUNT [PERCENT [PEOPLE]]"
    amount = parse_amount(words[0])
    if amount is None:
        return "That amount is not a positive number."
    if len(words) == 1:
        rows = ["Tips on {}:".format(money(amount))]
        for percent in COMMON:
            value, total = tip_line(amount, Decimal(percent))
            rows.append("{:>3}% {:>6} -> {:>6}".format(percent, str(value), str(total)))
        return "\n".join(rows)
    percent = parse_amount(words[1].rstrip("%"))
    if percent is None or percent > 100:
        return "A tip of {}% looks like a typo; give 0 to 100.".format(words[1].rstrip("%"))
    people = int(words[2]) if len(words) == 3 and words[2].isdigit() else 1
    if people < 1:
        return "At least one person pays."
    value, total = tip_line(amount, percent)
    each = money(total / people, rounding=decimal.ROUND_CEILING)
    text = "{}% tip on {} is {}, total {}".format(percent.normalize(), money(amount), value, total)
    if people == 1:
        return text + "."
    return text + ": {} each for {} people (rounded up to the cent).".format(each, people)
