"""Roman numerals both ways: roman 1994 -> MCMXCIV, roman MMXXIV -> 2024 (strict form only)."""
# call: roman "1994" => "1994 = MCMXCIV"
# call: roman "mmxxiv" => "MMXXIV = 2024"
# call: roman "IIII" => "IIII is not a valid Roman numeral (did you mean IV = 4?)"
# call: roman "4000" => "Roman numerals run from 1 to 3999."
# call: to_roman [[1, 4, 9, 14, 40, 90, 400, 3999]] => ["I", "IV", "IX", "XIV", "XL", "XC", "CD", "MMMCMXCIX"]
import functools
import re

import pyward

VALUES = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
          (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
LETTERS = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
STRICT = re.compile(r"^M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")


@functools.lru_cache(maxsize=4096)
def encode(number):
    parts = []
    for value, letters in VALUES:
        count, number = divmod(number, value)
        parts.append(letters * count)
    return "".join(parts)


def loose_value(numeral):
    """Additive/subtractive reading of any letters, for suggestions."""
    total = 0
    for here, after in zip(numeral, numeral[1:] + " "):
        value = LETTERS[here]
        total += -value if LETTERS.get(after, 0) > value else value
    return total


def to_roman(numbers):
    """Pipeline step: a list of integers (1-3999) as Roman numerals."""
    if not all(isinstance(n, int) and 1 <= n <= 3999 for n in numbers):
        raise ValueError("numbers must be integers from 1 to 3999")
    return [encode(n) for n in numbers]


@pyward.command("roman", security="everyone", help="roman NUMBER | roman NUMERAL")
def roman(event, args):
    text = args.strip().upper()
    if text.isdigit():
        number = int(text)
        if not 1 <= number <= 3999:
            return "Roman numerals run from 1 to 3999."
        return "{} = {}".format(number, encode(number))
    if not text or any(c not in LETTERS for c in text):
        return "Usage: roman NUMBER or roman NUMERAL (letters I V X L C D M)"
    if STRICT.match(text):
        value = loose_value(text)
        return "{} = {}".format(text, value)
    guess = loose_value(text)
    if 1 <= guess <= 3999:
        return "{} is not a valid Roman numeral (did you mean {} = {}?)".format(text, encode(guess), guess)
    return "{} is not a valid Roman numeral.".format(text)
