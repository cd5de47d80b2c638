"""Text effects: spongebob case, reversed, spaced, and a box."""
# call: fx "mock hello world" => "hElLo WoRlD"
# call: fx "flip abc" => "cba"
import functools

import pyward


def mocking(text):
    out, upper = [], False
    for ch in text:
        if ch.isalpha():
            out.append(ch.upper() if upper else ch.lower())
            upper = not upper
        else:
            out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=128)
def boxed(text):
    width = max((len(line) for line in text.splitlines()), default=0)
    top = "\u250c" + "\u2500" * (width + 2) + "\u2510"
    bottom = "\u2514" + "\u2500" * (width + 2) + "\u2518"
    middle = ["\u2502 " + line.ljust(width) + " \u2502" for line in text.splitlines()]
    return "\n".join([top] + middle + [bottom])


EFFECTS = {
    "mock": mocking,
    "flip": lambda text: text[::-1],
    "wide": lambda text: " ".join(text),
    "box": boxed,
}


@pyward.command("fx", security="everyone", help="fx mock|flip|wide|box TEXT")
def fx(event, args):
    effect, _, text = args.partition(" ")
    if effect not in EFFECTS or not text:
        return "Usage: fx " + "|".join(sorted(EFFECTS)) + " TEXT"
    return EFFECTS[effect](text)
