"""Highlight search terms in a message, using where each regex match starts and ends."""
import re

import pyward

MAX_TERMS = 5


def spans(pattern, text):
    """(start, end) of every match, merged where they overlap."""
    merged = []
    for m in pattern.finditer(text):
        start, end = m.start(), m.end()
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def first_sentence_with(pattern, text):
    m = pattern.search(text)
    if m is None:
        return None
    begin = text.rfind(".", 0, m.start()) + 1
    finish = text.find(".", m.end())
    return text[begin:finish + 1 if finish >= 0 else len(text)].strip()


@pyward.command("highlight", security="everyone", help="highlight TERM[,TERM...] | TEXT")
def highlight(event, args):
    terms, sep, text = args.partition("|")
    words = [t.strip() for t in terms.split(",") if t.strip()][:MAX_TERMS]
    if not sep or not words or not text.strip():
        return "Usage: highlight TERM[,TERM...] | TEXT"
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    marked, last = [], 0
    for start, end in spans(pattern, text):
        marked.append(text[last:start])
        marked.append("**" + text[start:end] + "**")
        last = end
    marked.append(text[last:])
    found = first_sentence_with(pattern, text)
    where = " First in: " + found if found else ""
    return "".join(marked).strip() + where
