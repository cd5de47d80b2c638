"""Password and passphrase generator (secrets-based), plus a rough strength check."""
# call: password "20" ~ "20-character password"
# call: password "3" => "Length must be between 8 and 128."
# call: passphrase "5" ~ "5 words, about 30 bits"
# call: strength ["correct horse battery staple"] => {"length": 28, "pool": 27, "bits": 133, "verdict": "strong"}
# call: strength ["Summer2024"] => {"length": 10, "pool": 62, "bits": 59, "verdict": "weak: common pattern"}
import math
import re
import secrets
import string

import pyward

SYMBOLS = "!#$%&*+-=?@^_~"
CLASSES = [string.ascii_lowercase, string.ascii_uppercase, string.digits, SYMBOLS]
WORDS = (
    "acorn amber anchor apple arrow aspen badge bagel basil beacon berry birch blade bloom "
    "brook cabin camel candle canyon cedar chalk cherry cider clover cobalt comet coral cotton "
    "crane daisy delta denim dune eagle ember fable fern fjord flint forest fossil garnet "
    "ginger glacier harbor hazel heron honey iris ivory jasper juniper kayak kettle lagoon "
    "lemon lilac linen lotus maple meadow nutmeg oasis pebble"
).split()
PATTERNS = [re.compile(p, re.IGNORECASE) for p in (
    r"(password|qwerty|letmein|admin|welcome|iloveyou)",
    r"(spring|summer|autumn|fall|winter)\d{2,4}",
    r"(.)\1{3,}",
    r"(0123|1234|2345|3456|4567|5678|6789|abcd)",
)]


def make_password(length):
    picks = [secrets.choice(group) for group in CLASSES]
    alphabet = "".join(CLASSES)
    picks += [secrets.choice(alphabet) for _ in range(length - len(picks))]
    secrets.SystemRandom().shuffle(picks)
    return "".join(picks)


@pyward.command("password", security="everyone", help="password [LENGTH]: a random password")
def password(event, args):
    text = args.strip() or "16"
    if not text.isdigit() or not 8 <= int(text) <= 128:
        return "Length must be between 8 and 128."
    length = int(text)
    bits = int(length * math.log2(len("".join(CLASSES))))
    return "Here is a {}-character password (~{} bits): {}".format(length, bits, make_password(length))


@pyward.command("passphrase", security="everyone", help="passphrase [WORDS]: words joined by dashes")
def passphrase(event, args):
    text = args.strip() or "5"
    if not text.isdigit() or not 3 <= int(text) <= 12:
        return "Ask for 3 to 12 words."
    count = int(text)
    phrase = "-".join(secrets.choice(WORDS) for _ in range(count))
    bits = int(count * math.log2(len(WORDS)))
    return "{} ({} words, about {} bits)".format(phrase, count, bits)


def strength(secret):
    """Pipeline step: a rough entropy estimate; no network, no breach lists."""
    pool = 0
    for group, size in ((string.ascii_lowercase, 26), (string.ascii_uppercase, 26),
                        (string.digits, 10), (SYMBOLS, len(SYMBOLS))):
        if any(c in group for c in secret):
            pool += size
    if any(c not in "".join(CLASSES) for c in secret):
        pool += 1
    bits = int(len(secret) * math.log2(pool)) if pool else 0
    if any(p.search(secret) for p in PATTERNS):
        verdict = "weak: common pattern"
    else:
        verdict = "strong" if bits >= 80 else "fair" if bits >= 50 else "weak"
    return {"length": len(secret), "pool": pool, "bits": bits, "verdict": verdict}
