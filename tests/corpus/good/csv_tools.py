"""CSV helper: column totals for a pasted table, and CSV export for pipelines."""
# call: csvsum "" => "Usage: csvsum, then CSV text on the next lines (the first line is the header)."
# call: csvsum "item,qty,price\napple,3,0.50\npear,4,1.25\nfig,,2" => "3 rows, 3 columns (delimiter ',')\nqty: sum 7, mean 3.5 (2 of 3 filled)\nprice: sum 3.75, mean 1.25 (3 of 3 filled)\nitem: text, 3 distinct"
# call: csvsum "name;score\nAnn;10\nBo;7.5" => "2 rows, 2 columns (delimiter ';')\nscore: sum 17.5, mean 8.75 (2 of 2 filled)\nname: text, 2 distinct"
# call: to_csv [[{"name": "Ann", "score": 3}, {"name": "Bo, Jr.", "score": 5, "team": "red"}]] => "name,score,team\nAnn,3,\n\"Bo, Jr.\",5,red\n"
import csv
import io

import pyward

USAGE = "Usage: csvsum, then CSV text on the next lines (the first line is the header)."


def sniff_delimiter(text):
    first_line = text.splitlines()[0]
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def parse(text):
    text = text.strip()
    delimiter = sniff_delimiter(text)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    rows = list(reader)
    return delimiter, list(reader.fieldnames or []), rows


def as_number(value):
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        return None


@pyward.command("csvsum", security="everyone", help="csvsum + CSV text: totals per numeric column")
def csvsum(event, args):
    if not args.strip():
        return USAGE
    delimiter, columns, rows = parse(args)
    if not rows:
        return "The table has a header but no rows."
    lines = ["{} rows, {} columns (delimiter {!r})".format(len(rows), len(columns), delimiter)]
    text_columns = []
    for column in columns:
        cells = [row.get(column) for row in rows]
        filled = [c for c in cells if c is not None and c.strip()]
        numbers = [as_number(c) for c in filled]
        if not filled or any(n is None for n in numbers):
            text_columns.append((column, len(set(filled))))
            continue
        total = sum(numbers)
        lines.append("{}: sum {:g}, mean {:g} ({} of {} filled)".format(
            column, total, total / len(numbers), len(numbers), len(rows)))
    for column, distinct in text_columns:
        lines.append("{}: text, {} distinct".format(column, distinct))
    return "\n".join(lines)


def to_csv(rows, columns=None):
    """Pipeline step: a list of objects to CSV text (columns in first-seen order)."""
    if columns is None:
        columns = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
