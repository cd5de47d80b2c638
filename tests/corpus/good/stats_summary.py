"""Descriptive statistics for a list of numbers pasted into the chat."""
# call: stats "4 8 15 16 23 42" => "n=6  mean=18  median=15.5  stdev=13.49\nmin=4  q1=7  q3=27.75  max=42\nmode: all values are distinct"
# call: stats "3, 3, 5, 7, 3.5" => "n=5  mean=4.3  median=3.5  stdev=1.718\nmin=3  q1=3  q3=6  max=7\nmode: 3"
# call: stats "7" => "Give me at least two numbers."
# call: stats "1 two 3" => "Not a number: two"
# call: summarize [[2, 4, 4, 4, 5, 5, 7, 9]] => {"count": 8, "mean": 5.0, "median": 4.5, "pstdev": 2.0, "stdev": 2.138, "modes": [4], "range": [2, 9]}
import math
import re
import statistics

import pyward

SEPARATORS = re.compile(r"[\s,;]+")


def parse(text):
    values = []
    for token in SEPARATORS.split(text.strip()):
        if not token:
            continue
        try:
            number = float(token)
        except ValueError:
            raise ValueError("Not a number: " + token)
        if not math.isfinite(number):
            raise ValueError("Not a finite number: " + token)
        values.append(number)
    return values


def fmt(value):
    return "{:.4g}".format(value)


def summarize(values):
    """Pipeline step: a JSON summary of a list of numbers."""
    if len(values) < 2:
        raise ValueError("need at least two values")
    return {
        "count": len(values),
        "mean": round(statistics.fmean(values), 3),
        "median": statistics.median(values),
        "pstdev": round(statistics.pstdev(values), 3),
        "stdev": round(statistics.stdev(values), 3),
        "modes": sorted(statistics.multimode(values)),
        "range": [min(values), max(values)],
    }


@pyward.command("stats", security="everyone", help="stats 1 2 3 4 (spaces or commas)")
def stats(event, args):
    try:
        values = parse(args)
    except ValueError as error:
        return str(error)
    if len(values) < 2:
        return "Give me at least two numbers."
    if len(values) > 10000:
        return "That is more numbers than I will read in chat."
    try:
        q1, _, q3 = statistics.quantiles(values, n=4)
        lines = [
            "n={}  mean={}  median={}  stdev={}".format(
                len(values), fmt(statistics.fmean(values)), fmt(statistics.median(values)),
                fmt(statistics.stdev(values))),
            "min={}  q1={}  q3={}  max={}".format(fmt(min(values)), fmt(q1), fmt(q3), fmt(max(values))),
        ]
    except (OverflowError, ValueError):
        return "Those numbers are too large to summarise."
    modes = statistics.multimode(values)
    if len(modes) == len(values):
        lines.append("mode: all values are distinct")
    else:
        lines.append("mode: " + ", ".join(fmt(m) for m in sorted(modes)))
    return "\n".join(lines)
