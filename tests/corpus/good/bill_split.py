"""Split a restaurant bill to the cent, tip included, so the shares add up exactly."""
# call: split "dinner for everyone" => "Usage: split TOTAL PEOPLE [tip PERCENT], e.g. split 84.50 3 tip 15"
# call: split "100 3 tip 15%" => "Bill 100.00 + tip 15.00 = 115.00\n3 people: 38.34, 38.33, 38.33"
# call: split "$59.99 4" => "Bill 59.99 + tip 0.00 = 59.99\n4 people: 15.00, 15.00, 15.00, 14.99"
# call: split "20 0" => "Someone has to pay: give 1 to 50 people."
# call: shares ["87.45", 4, "18"] => {"bill": "87.45", "tip": "15.74", "total": "103.19", "shares": ["25.80", "25.80", "25.80", "25.79"]}
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pyward

CENT = Decimal("0.01")
REQUEST = re.compile(
    r"^\$?(\d+(?:\.\d{1,2})?)\s+(\d+)(?:\s+(?:tip\s+)?(\d+(?:\.\d+)?)\s*%?)?$",
    re.IGNORECASE,
)


def shares(bill, people, tip_percent="0"):
    """Pipeline step: the exact split as strings (Decimal is not JSON)."""
    try:
        bill = Decimal(str(bill)).quantize(CENT)
        tip_percent = Decimal(str(tip_percent))
    except InvalidOperation:
        raise ValueError("bill and tip must be numbers")
    people = int(people)
    if not 1 <= people <= 50:
        raise ValueError("people must be 1 to 50")
    tip = (bill * tip_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    total = bill + tip
    cents = int(total / CENT)
    base, leftover = divmod(cents, people)
    parts = [(Decimal(base + (1 if i < leftover else 0)) * CENT).quantize(CENT) for i in range(people)]
    return {
        "bill": str(bill),
        "tip": str(tip),
        "total": str(total),
        "shares": [str(p) for p in parts],
    }


@pyward.command("split", security="everyone", help="split TOTAL PEOPLE [tip PERCENT]")
def split(event, args):
    match = REQUEST.match(args.strip())
    if not match:
        return "Usage: split TOTAL PEOPLE [tip PERCENT], e.g. split 84.50 3 tip 15"
    bill, people, tip = match.groups()
    if not 1 <= int(people) <= 50:
        return "Someone has to pay: give 1 to 50 people."
    result = shares(bill, people, tip or "0")
    return "Bill {} + tip {} = {}\n{} people: {}".format(
        result["bill"], result["tip"], result["total"], people, ", ".join(result["shares"]))
