"""Markdown table formatter: rows separated by ';' or new lines, cells by ',' or tabs."""
# call: mdtable "Fruit, Qty, Price; Apple, 3, 0.50; Banana, 12, 0.25" => "| Fruit  | Qty | Price |\n|--------|----:|------:|\n| Apple  |   3 |  0.50 |\n| Banana |  12 |  0.25 |"
# call: mdtable "Only a header" => "Give me a header row and at least one data row."
# call: mdtable "Name\tRole\nAda\tEngineer\nGrace" => "| Name  | Role     |\n|-------|----------|\n| Ada   | Engineer |\n| Grace |          |"
# call: markdown_table [[{"city": "Oslo", "temp": -3}, {"city": "Lima", "temp": 19, "note": "sunny"}]] => "| city | temp | note  |\n|------|-----:|-------|\n| Oslo |   -3 |       |\n| Lima |   19 | sunny |"
import itertools
import re

import pyward

NUMBER = re.compile(r"^[-+]?\d+(?:[.,]\d+)?%?$")


def escape_cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def render(header, rows):
    width = len(header)
    rows = [list(row) + [""] * (width - len(row)) for row in rows]
    columns = list(zip(*([header] + rows)))
    numeric = [all(NUMBER.match(c) for c in col[1:] if c) and any(col[1:]) for col in columns]
    sizes = [max(3, *(len(c) for c in col)) for col in columns]
    lines = ["| " + " | ".join(h.ljust(s) for h, s in zip(header, sizes)) + " |"]
    rule = ["-" * (s + 1) + ":" if num else "-" * (s + 2) for s, num in zip(sizes, numeric)]
    lines.append("|" + "|".join(rule) + "|")
    for row in rows:
        cells = [c.rjust(s) if num else c.ljust(s) for c, s, num in zip(row, sizes, numeric)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@pyward.command("mdtable", security="everyone", help="mdtable a, b; 1, 2 (or tab-separated lines)")
def mdtable(event, args):
    text = args.strip()
    row_sep = "\n" if "\n" in text else ";"
    cell_sep = "\t" if "\t" in text else ","
    rows = [[escape_cell(c) for c in line.split(cell_sep)] for line in text.split(row_sep) if line.strip()]
    if len(rows) < 2:
        return "Give me a header row and at least one data row."
    if max(len(r) for r in rows) > 12:
        return "At most 12 columns, please."
    header = rows[0] + [""] * (max(len(r) for r in rows) - len(rows[0]))
    return render(header, rows[1:])


def markdown_table(records, columns=None):
    """Pipeline step: a list of objects as a Markdown table (columns in first-seen order)."""
    if columns is None:
        columns = list(dict.fromkeys(itertools.chain.from_iterable(records)))
    rows = [[escape_cell(r.get(c, "")) for c in columns] for r in records]
    return render([escape_cell(c) for c in columns], rows)
