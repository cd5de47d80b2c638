"""Owner-only moderation helpers: a banned-word list and a message editor."""
import json
import re

import pyward


def banned_words():
    return json.loads(pyward.kv_get("banned", "[]"))


@pyward.command("ban-word", security="owner", help="ban-word WORD")
def ban_word(event, args):
    word = args.strip().lower()
    if not re.fullmatch(r"[\w-]{2,32}", word):
        return "Words are 2 to 32 letters, digits, _ or -."
    words = sorted(set(banned_words()) | {word})
    pyward.kv_set("banned", json.dumps(words))
    pyward.log("banned word added by " + event["sender"])
    return "Banned words: " + ", ".join(words)


@pyward.command("censor", security="sudo", help="censor MESSAGE_ID")
def censor(event, args):
    words = banned_words()
    text = event.get("reply_to_text", "")
    if not words or not text:
        return "Nothing to censor."
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    cleaned = pattern.sub(lambda m: "*" * len(m.group(0)), text)
    pyward.edit_message(args.strip(), cleaned)
    return "Censored."
