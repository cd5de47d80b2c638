"""Recipe scaler with units: scale 3/2 | 2 cups flour; 1/2 tsp salt; 3 eggs; 600 g sugar."""
# call: scale "3/2 | 2 cups flour; 1/2 tsp salt; 3 eggs; 750 g sugar" => "x3/2:\n3 cups flour\n3/4 tsp salt\n4 1/2 eggs\n1 1/8 kg sugar"
# call: scale "2 | 2 tsp vanilla; 1 1/2 tbsp butter; 300 ml milk; a pinch of salt" => "x2:\n1 1/3 tbsp vanilla\n3 tbsp butter\n600 ml milk\na pinch of salt"
# call: scale "from 4 to 6 | 500 ml stock" => "x3/2:\n750 ml stock"
# call: scale "lots | 1 egg" => "Usage: scale FACTOR | INGREDIENT; INGREDIENT... (FACTOR like 2, 1/2, 1.5 or 'from 4 to 6')"
import re
from fractions import Fraction

import pyward

USAGE = "Usage: scale FACTOR | INGREDIENT; INGREDIENT... (FACTOR like 2, 1/2, 1.5 or 'from 4 to 6')"
# unit -> (family, size in the family's base unit); listed from small to large
UNITS = {
    "tsp": ("spoon", Fraction(1)), "tbsp": ("spoon", Fraction(3)),
    "ml": ("volume", Fraction(1)), "l": ("volume", Fraction(1000)),
    "g": ("mass", Fraction(1)), "kg": ("mass", Fraction(1000)),
    "cup": ("cup", Fraction(1)),
}
ALIASES = {"cups": "cup", "teaspoon": "tsp", "teaspoons": "tsp", "tablespoon": "tbsp", "tablespoons": "tbsp",
           "gram": "g", "grams": "g", "litre": "l", "liter": "l", "litres": "l", "liters": "l"}
LINE = re.compile(r"^(\d+\s+\d+/\d+|\d+/\d+|\d+(?:\.\d+)?)\s*([a-zA-Z]+)?\b\s*(.*)$")


def parse_factor(text):
    text = text.strip().lower()
    match = re.fullmatch(r"from\s+(\d+)\s+to\s+(\d+)", text)
    if match:
        return Fraction(int(match.group(2)), int(match.group(1)))
    return parse_amount(text)


def parse_amount(text):
    whole, _, part = text.strip().partition(" ")
    if part:
        return Fraction(whole) + Fraction(part)
    return Fraction(whole)


def show_amount(value):
    value = value.limit_denominator(16)
    whole, rest = divmod(value, 1)
    if not rest:
        return str(whole)
    return "{} {}".format(whole, rest) if whole else str(rest)


def best_unit(amount, unit):
    family, size = UNITS[unit]
    base = amount * size
    choices = [(name, s) for name, (f, s) in UNITS.items() if f == family]
    name, s = max((c for c in choices if base >= c[1]), key=lambda c: c[1], default=(unit, size))
    return base / s, name


def scale_line(line, factor):
    match = LINE.match(line.strip())
    if not match:
        return line.strip()
    amount, unit, rest = match.groups()
    value = parse_amount(amount) * factor
    unit_key = ALIASES.get((unit or "").lower(), (unit or "").lower())
    if unit_key in UNITS:
        value, unit_key = best_unit(value, unit_key)
        if unit_key == "cup" and value > 1:
            unit_key = "cups"
        return "{} {} {}".format(show_amount(value), unit_key, rest).strip()
    return "{} {}".format(show_amount(value), " ".join(filter(None, [unit, rest]))).strip()


@pyward.command("scale", security="everyone", help=USAGE)
def scale(event, args):
    factor_text, bar, body = args.partition("|")
    try:
        factor = parse_factor(factor_text)
    except (ValueError, ZeroDivisionError):
        return USAGE
    items = [part for part in re.split(r"[;\n]", body) if part.strip()]
    if not bar or not items or not 0 < factor <= 100:
        return USAGE
    return "x{}:\n".format(factor) + "\n".join(scale_line(item, factor) for item in items)
