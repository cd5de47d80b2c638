"""Unicode character lookup: what is this character, and how do I type that one?"""
# call: char "\u00e9" => "\u00e9  U+00E9  LATIN SMALL LETTER E WITH ACUTE  (Ll, lowercase letter)"
# call: char "a\u00bd\u20ac" => "a  U+0061  LATIN SMALL LETTER A  (Ll, lowercase letter)\n\u00bd  U+00BD  VULGAR FRACTION ONE HALF  (No, other number) = 0.5\n\u20ac  U+20AC  EURO SIGN  (Sc, currency symbol)"
# call: charname "greek  small letter alpha" => "\u03b1  U+03B1  GREEK SMALL LETTER ALPHA"
# call: charname "latin small letter unicorn" => "No character is named LATIN SMALL LETTER UNICORN."
# call: plain "Cr\u00e8me Br\u00fbl\u00e9e \ufb01nale" => "Creme Brulee finale"
import unicodedata

import pyward

CATEGORIES = {
    "Lu": "uppercase letter", "Ll": "lowercase letter", "Lt": "titlecase letter",
    "Lm": "modifier letter", "Lo": "other letter", "Mn": "combining mark",
    "Nd": "decimal digit", "Nl": "letter number", "No": "other number",
    "Pc": "connector punctuation", "Pd": "dash", "Ps": "opening bracket", "Pe": "closing bracket",
    "Po": "punctuation", "Sm": "math symbol", "Sc": "currency symbol", "So": "other symbol",
    "Zs": "space", "Cc": "control character", "Cf": "format character",
}
MAX_CHARS = 8


def describe(char):
    code = "U+{:04X}".format(ord(char))
    name = unicodedata.name(char, "(no name)")
    category = unicodedata.category(char)
    shown = char if category[0] not in "CZ" else " "
    line = "{}  {}  {}  ({}, {})".format(shown, code, name, category, CATEGORIES.get(category, "other"))
    value = unicodedata.numeric(char, None)
    if value is not None and category != "Nd":
        line += " = {:g}".format(value)
    return line


@pyward.command("char", security="everyone", help="char TEXT: name every character (up to 8)")
def char(event, args):
    text = args.strip()
    if not text:
        return "Usage: char TEXT"
    if len(text) > MAX_CHARS:
        return "Give me at most {} characters.".format(MAX_CHARS)
    return "\n".join(describe(c) for c in text)


@pyward.command("charname", security="everyone", help="charname NAME: the character with that name")
def charname(event, args):
    name = " ".join(args.upper().split())
    if not name:
        return "Usage: charname NAME, e.g. charname snowman"
    try:
        found = unicodedata.lookup(name)
    except KeyError:
        return "No character is named {}.".format(name)
    return "{}  U+{:04X}  {}".format(found, ord(found), unicodedata.name(found, name))


def plain(text):
    """Pipeline step: compatibility-normalise and drop accents (for search keys)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
