"""A calculator that parses arithmetic itself instead of evaluating code."""
# call: calc "(1 + 2) * 3 ** 2" => "27"
# call: calc "1 / 0" => "Cannot compute: float division by zero"
# call: calc "__import__(1)" => "Cannot compute: unexpected character at position 1"
import math
import re

import pyward

TOKEN = re.compile(r"\s*(?:(\d+\.?\d*)|(\*\*|[-+*/%()]))")
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "**": 3}
RIGHT_ASSOCIATIVE = {"**"}


def tokenize(text):
    pos, tokens = 0, []
    text = text.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match:
            raise ValueError("unexpected character at position {}".format(pos + 1))
        number, operator = match.groups()
        tokens.append(float(number) if number else operator)
        pos = match.end()
    return tokens


def to_rpn(tokens):
    output, stack = [], []
    for token in tokens:
        if isinstance(token, float):
            output.append(token)
        elif token == "(":
            stack.append(token)
        elif token == ")":
            while stack and stack[-1] != "(":
                output.append(stack.pop())
            if not stack:
                raise ValueError("unbalanced parenthesis")
            stack.pop()
        else:
            while stack and stack[-1] != "(" and (
                PRECEDENCE[stack[-1]] > PRECEDENCE[token]
                or (PRECEDENCE[stack[-1]] == PRECEDENCE[token] and token not in RIGHT_ASSOCIATIVE)
            ):
                output.append(stack.pop())
            stack.append(token)
    while stack:
        if stack[-1] == "(":
            raise ValueError("unbalanced parenthesis")
        output.append(stack.pop())
    return output


def evaluate(text):
    values = []
    for token in to_rpn(tokenize(text)):
        if isinstance(token, float):
            values.append(token)
            continue
        if len(values) < 2:
            raise ValueError("missing operand")
        b, a = values.pop(), values.pop()
        if token == "**" and abs(b) > 64:
            raise ValueError("exponent too large")
        values.append({
            "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
            "/": lambda: a / b, "%": lambda: math.fmod(a, b), "**": lambda: a ** b,
        }[token]())
    if len(values) != 1:
        raise ValueError("malformed expression")
    return values[0]


@pyward.command("calc", security="everyone", help="calc (1 + 2) * 3")
def calc(event, args):
    try:
        result = evaluate(args)
    except (ValueError, ZeroDivisionError, OverflowError) as error:
        return "Cannot compute: {}".format(error)
    return "{:g}".format(result)
