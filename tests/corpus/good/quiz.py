"""Trivia quiz per room: forgiving answers (accents, case, small typos), scores per player."""
# call: answer "Paris" => "No question is open. Ask for one with: quiz"
# call: quiz "" => "Question 1/6: What is the capital of Australia?"
# call: answer "Sydney" => "Not quite, @alice:example.org. Try again!"
# call: answer "canbera" => "Correct, @alice:example.org! (Canberra) Score: 1"
# call: quizscore "" => "@alice:example.org: 1"
import difflib
import unicodedata

import pyward

QUESTIONS = [
    ("What is the capital of Australia?", ["Canberra"]),
    ("Which planet has the most moons known in 2024?", ["Saturn"]),
    ("Who wrote 'Cien años de soledad'?", ["Gabriel García Márquez", "García Márquez", "Marquez"]),
    ("What is the chemical symbol for sodium?", ["Na"]),
    ("How many sides does a hexagon have?", ["6", "six"]),
    ("In which city is the Atomium?", ["Brussels", "Bruxelles", "Brussel"]),
]


def normal(text):
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in kept).split())


def matches(guess, accepted):
    guess = normal(guess)
    for answer in accepted:
        target = normal(answer)
        if guess == target:
            return True
        if len(target) >= 5 and difflib.SequenceMatcher(None, guess, target).ratio() >= 0.85:
            return True
    return False


@pyward.command("quiz", security="everyone", help="quiz: ask the next question")
def quiz(event, args):
    key = "quiz:" + event["chat"]
    state = pyward.kv_get(key, {"next": 0, "current": None, "scores": {}})
    if state["current"] is not None:
        return "Still open: " + QUESTIONS[state["current"]][0]
    index = state["next"] % len(QUESTIONS)
    state["current"], state["next"] = index, index + 1
    pyward.kv_set(key, state)
    return "Question {}/{}: {}".format(index + 1, len(QUESTIONS), QUESTIONS[index][0])


@pyward.command("answer", security="everyone", help="answer TEXT")
def answer(event, args):
    key = "quiz:" + event["chat"]
    state = pyward.kv_get(key)
    if not state or state["current"] is None:
        return "No question is open. Ask for one with: quiz"
    accepted = QUESTIONS[state["current"]][1]
    if not matches(args, accepted):
        return "Not quite, {}. Try again!".format(event["sender"])
    player = event["sender"]
    state["scores"][player] = state["scores"].get(player, 0) + 1
    state["current"] = None
    pyward.kv_set(key, state)
    return "Correct, {}! ({}) Score: {}".format(player, accepted[0], state["scores"][player])


@pyward.command("quizscore", security="everyone", help="quizscore: the scoreboard")
def quizscore(event, args):
    state = pyward.kv_get("quiz:" + event["chat"], {"scores": {}})
    ranked = sorted(state["scores"].items(), key=lambda item: (-item[1], item[0]))
    return "\n".join("{}: {}".format(p, s) for p, s in ranked) or "No scores yet."
