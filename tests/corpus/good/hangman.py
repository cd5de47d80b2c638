"""Hangman per room: someone sets a word (or the bot picks one), everybody guesses."""
# call: guess "e" => "No game running. Start one with: hangman [WORD]"
# call: hangman "Sandbox" => "New game! _ _ _ _ _ _ _  (7 letters, 6 lives)"
# call: guess "a" => "Yes! _ a _ _ _ _ _  lives: 6"
# call: guess "z" => "No z. _ a _ _ _ _ _  lives: 5, tried: z"
# call: guess "sandbox" => "@alice:example.org solved it: SANDBOX"
import random
import string

import pyward

WORDS = ["python", "module", "sandbox", "keyboard", "gallery", "penguin", "lantern", "orchard",
         "compass", "harvest", "balloon", "mystery", "thunder", "journey", "whistle", "blanket"]
LIVES = 6


def key(chat):
    return "hangman:" + chat


def masked(word, found):
    return " ".join(c if c in found else "_" for c in word)


@pyward.command("hangman", security="everyone", help="hangman [WORD]: start a game")
def hangman(event, args):
    word = args.strip().lower() or random.choice(WORDS)
    if not 3 <= len(word) <= 20 or any(c not in string.ascii_lowercase for c in word):
        return "The word must be 3 to 20 letters a-z."
    pyward.kv_set(key(event["chat"]), {"word": word, "found": [], "missed": [], "lives": LIVES})
    return "New game! {}  ({} letters, {} lives)".format(masked(word, ()), len(word), LIVES)


@pyward.command("guess", security="everyone", help="guess LETTER or guess WORD")
def guess(event, args):
    game = pyward.kv_get(key(event["chat"]))
    if game is None:
        return "No game running. Start one with: hangman [WORD]"
    attempt = args.strip().lower()
    word = game["word"]
    if not attempt or any(c not in string.ascii_lowercase for c in attempt):
        return "Guess a letter a-z or the whole word."
    if len(attempt) > 1:
        if attempt == word:
            pyward.kv_delete(key(event["chat"]))
            return "{} solved it: {}".format(event["sender"], word.upper())
        game["lives"] -= 1
        verdict = "Not the word."
    elif attempt in game["found"] or attempt in game["missed"]:
        return "Already tried {}.".format(attempt)
    elif attempt in word:
        game["found"].append(attempt)
        verdict = "Yes!"
    else:
        game["missed"].append(attempt)
        game["lives"] -= 1
        verdict = "No {}.".format(attempt)
    if all(c in game["found"] for c in word):
        pyward.kv_delete(key(event["chat"]))
        return "{} {}  Solved!".format(verdict, word.upper())
    if game["lives"] <= 0:
        pyward.kv_delete(key(event["chat"]))
        return "{} Out of lives. The word was {}.".format(verdict, word.upper())
    pyward.kv_set(key(event["chat"]), game)
    status = "lives: {}".format(game["lives"])
    if game["missed"]:
        status += ", tried: " + " ".join(sorted(game["missed"]))
    return "{} {}  {}".format(verdict, masked(word, game["found"]), status)
