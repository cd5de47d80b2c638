"""Exact fraction arithmetic: frac 1/3 + 1/6, with mixed numbers in the answer."""
# call: frac "1/3 + 1/6" => "1/3 + 1/6 = 1/2 (0.5)"
# call: frac "7/4 * 2" => "7/4 * 2 = 7/2 = 3 1/2 (3.5)"
# call: frac "1 1/2 - 2/3" => "1 1/2 - 2/3 = 5/6 (0.8333)"
# call: frac "5/8 / 0" => "Cannot divide by zero."
# call: approximate [3.14159265, 120] => "355/113"
import operator
import re
from fractions import Fraction

import pyward

OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
NUMBER = r"-?\d+(?:\s+\d+/\d+|/\d+|\.\d+)?"
EXPRESSION = re.compile(r"^\s*(" + NUMBER + r")\s*([-+*/])\s*(" + NUMBER + r")\s*$")


def parse_number(text):
    """Reads 3, -2/5, 0.75 or a mixed number like 1 1/2."""
    whole, _, rest = text.strip().partition(" ")
    if rest:
        value = abs(int(whole)) + Fraction(rest.strip())
        return -value if whole.startswith("-") else value
    return Fraction(text.strip())


def mixed(value):
    if value.denominator == 1 or abs(value) < 1:
        return str(value)
    whole = int(value)
    remainder = abs(value - whole)
    return "{} {}".format(whole, remainder)


def show(value):
    text = str(value)
    if mixed(value) != text:
        text += " = " + mixed(value)
    if value.denominator != 1:
        text += " ({:.4g})".format(float(value))
    return text


@pyward.command("frac", security="everyone", help="frac A OP B, e.g. frac 1 1/2 + 3/4")
def frac(event, args):
    match = EXPRESSION.match(args)
    if not match:
        return "Usage: frac A OP B, where A and B look like 3, 2/5, 0.75 or 1 1/2 and OP is + - * /"
    left_text, symbol, right_text = match.groups()
    try:
        left, right = parse_number(left_text), parse_number(right_text)
        result = OPERATORS[symbol](left, right)
    except ZeroDivisionError:
        return "Cannot divide by zero."
    expression = "{} {} {}".format(" ".join(left_text.split()), symbol, " ".join(right_text.split()))
    return "{} = {}".format(expression, show(result))


def approximate(value, max_denominator=100):
    """Pipeline step: the closest fraction with a bounded denominator."""
    return str(Fraction(str(value)).limit_denominator(int(max_denominator)))
