"""Unit conversion for lengths, weights and temperatures."""
# call: convert "10 km to mi" => "10 km = 6.214 mi"
# call: convert "3 parsecs to km" => "cannot convert parsecs to km"
import math
import re

import pyward

FACTORS = {
    ("km", "mi"): 0.621371, ("mi", "km"): 1.609344,
    ("m", "ft"): 3.28084, ("ft", "m"): 0.3048,
    ("kg", "lb"): 2.204623, ("lb", "kg"): 0.453592,
}
QUERY = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-z]+)\s+(?:to|in)\s+([a-z]+)\s*$", re.IGNORECASE)


def convert(value, source, target):
    if (source, target) == ("c", "f"):
        return value * 9 / 5 + 32
    if (source, target) == ("f", "c"):
        return (value - 32) * 5 / 9
    factor = FACTORS.get((source, target))
    if factor is None:
        raise ValueError("cannot convert {} to {}".format(source, target))
    return value * factor


@pyward.command("convert", security="everyone", help="convert 10 km to mi")
def convert_command(event, args):
    match = QUERY.match(args)
    if not match:
        return "Usage: convert 10 km to mi"
    value, source, target = float(match.group(1)), match.group(2).lower(), match.group(3).lower()
    try:
        result = convert(value, source, target)
    except ValueError as error:
        return str(error)
    if not math.isfinite(result):
        return "That number is too large."
    return "{:g} {} = {:.4g} {}".format(value, source, result, target)
