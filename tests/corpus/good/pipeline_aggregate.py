"""Pipeline step: group sales by region and month."""
import collections
import functools


def month_of(date_text):
    return date_text[:7]


def aggregate(rows):
    totals = collections.defaultdict(float)
    counts = collections.Counter()
    for row in rows:
        key = (row["region"], month_of(row["date"]))
        totals[key] += float(row["amount"])
        counts[key] += 1
    grand_total = functools.reduce(lambda acc, value: acc + value, totals.values(), 0.0)
    return {
        "groups": [
            {"region": region, "month": month, "total": round(total, 2), "count": counts[(region, month)]}
            for (region, month), total in sorted(totals.items())
        ],
        "grand_total": round(grand_total, 2),
    }
