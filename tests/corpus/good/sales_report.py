"""Sales tracker: record sales per region and get grouped totals with running sums."""
# call: sales "" => "No sales recorded yet. Use: sale REGION AMOUNT"
# call: sale "north 120" => "Recorded 120 for north (sale #1)."
# call: sale "south twelve" => "Usage: sale REGION AMOUNT (a whole number)"
# call: report [[{"region": "north", "month": "2024-01", "amount": 120}, {"region": "south", "month": "2024-01", "amount": 80}, {"region": "north", "month": "2024-02", "amount": 60}, {"region": "south", "month": "2024-02", "amount": 150}, {"region": "east", "month": "2024-02", "amount": 40}]] => {"by_region": {"east": 40, "north": 180, "south": 230}, "by_month": {"2024-01": 200, "2024-02": 250}, "running": [200, 450], "best": ["south", "2024-02", 150], "share": {"east": 0.089, "north": 0.4, "south": 0.511}}
# call: month_table [[{"region": "north", "month": "2024-01", "amount": 120}, {"region": "north", "month": "2024-02", "amount": 60}, {"region": "south", "month": "2024-02", "amount": 150}]] => "region  2024-01  2024-02\nnorth       120       60\nsouth         0      150"
import itertools
import operator

import pyward

by_region_key = operator.itemgetter("region")
by_month_key = operator.itemgetter("month")
amount_of = operator.itemgetter("amount")


def totals(rows, key):
    ordered = sorted(rows, key=key)
    return {name: sum(map(amount_of, group)) for name, group in itertools.groupby(ordered, key=key)}


def report(rows):
    """Pipeline step: totals by region and month, running total, best single sale, shares."""
    by_region = totals(rows, by_region_key)
    by_month = totals(rows, by_month_key)
    running = list(itertools.accumulate(by_month[m] for m in sorted(by_month)))
    best = max(rows, key=amount_of)
    grand = sum(by_region.values()) or 1
    return {
        "by_region": by_region,
        "by_month": by_month,
        "running": running,
        "best": [best["region"], best["month"], best["amount"]],
        "share": {region: round(total / grand, 3) for region, total in by_region.items()},
    }


def month_table(rows):
    """Pipeline step: a region x month text table (missing cells are 0)."""
    months = sorted(set(map(by_month_key, rows)))
    cells = {(r["region"], r["month"]): r["amount"] for r in rows}
    regions = sorted(set(map(by_region_key, rows)))
    lines = ["region  " + "  ".join(months)]
    for region in regions:
        values = (cells.get(pair, 0) for pair in itertools.product([region], months))
        lines.append("{:<6}  ".format(region) + "  ".join("{:>7}".format(v) for v in values))
    return "\n".join(lines)


@pyward.command("sale", security="sudo", help="sale REGION AMOUNT")
def sale(event, args):
    region, _, amount = args.strip().partition(" ")
    if not region or not amount.strip().isdigit():
        return "Usage: sale REGION AMOUNT (a whole number)"
    rows = pyward.kv_get("sales:" + event["chat"], [])
    rows.append({"region": region.lower(), "month": "current", "amount": int(amount)})
    pyward.kv_set("sales:" + event["chat"], rows)
    return "Recorded {} for {} (sale #{}).".format(int(amount), region.lower(), len(rows))


@pyward.command("sales", security="everyone", help="sales: totals per region")
def sales(event, args):
    rows = pyward.kv_get("sales:" + event["chat"], [])
    if not rows:
        return "No sales recorded yet. Use: sale REGION AMOUNT"
    summary = report(rows)
    ranked = sorted(summary["by_region"].items(), key=operator.itemgetter(1), reverse=True)
    lines = ["{}: {} ({:.0%})".format(r, t, summary["share"][r]) for r, t in ranked]
    return "\n".join(lines + ["Top sale: {} in {}".format(summary["best"][2], summary["best"][0])])
