"""Sparklines and histograms for quick numbers in chat, stored in compact typed arrays."""
# call: spark "1 5 22 13 5 0 8" => "▁▃█▅▃▁▄  min 0, max 22, last 8"
# call: spark "3 3 3" => "▄▄▄  min 3, max 3, last 3"
# call: spark "" => "Usage: spark N N N... (2 to 200 numbers)"
# call: histogram [[1, 2, 2, 3, 3, 3, 9], 4] => ["1-3    | ###", "3-5    | ###", "5-7    | ", "7-9    | #"]
# call: pack_series [[10, 20, 30]] => {"typecode": "d", "count": 3, "mean": 20.0, "bytes": 24}
import array
import math

import pyward

BARS = "▁▂▃▄▅▆▇█"


def to_array(values):
    series = array.array("d")
    for value in values:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("finite numbers only")
        series.append(number)
    return series


def sparkline(series):
    low, high = min(series), max(series)
    if high == low:
        return BARS[len(BARS) // 2 - 1] * len(series)
    span = high - low
    return "".join(BARS[min(len(BARS) - 1, int((v - low) / span * (len(BARS) - 1) + 0.5))] for v in series)


@pyward.command("spark", security="everyone", help="spark 1 5 22 13 5")
def spark(event, args):
    words = args.replace(",", " ").split()
    if not 2 <= len(words) <= 200:
        return "Usage: spark N N N... (2 to 200 numbers)"
    try:
        series = to_array(words)
    except ValueError:
        return "Numbers only, please."
    return "{}  min {:g}, max {:g}, last {:g}".format(sparkline(series), min(series), max(series), series[-1])


def histogram(values, buckets=5):
    """Pipeline step: a text histogram with equal-width buckets (counts kept in an array)."""
    series = to_array(values)
    buckets = max(1, int(buckets))
    low, high = min(series), max(series)
    width = (high - low) / buckets or 1
    counts = array.array("I", [0] * buckets)
    for value in series:
        counts[min(buckets - 1, int((value - low) / width))] += 1
    labels = ["{:g}-{:g}".format(low + i * width, low + (i + 1) * width) for i in range(buckets)]
    return ["{:<6} | {}".format(label, "#" * count) for label, count in zip(labels, counts)]


def pack_series(values):
    """Pipeline step: how a series is stored (typed array of doubles)."""
    series = to_array(values)
    return {"typecode": series.typecode, "count": len(series),
            "mean": math.fsum(series) / len(series), "bytes": series.itemsize * len(series)}
