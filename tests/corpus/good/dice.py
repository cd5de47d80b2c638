"""Dice roller understanding NdM+K notation."""
import random
import re

import pyward

DICE = re.compile(r"^\s*(\d{0,2})d(\d{1,3})\s*([+-]\s*\d{1,4})?\s*$", re.IGNORECASE)


def roll(spec, rng=random):
    match = DICE.match(spec)
    if not match:
        raise ValueError("expected something like 2d6+3")
    count = int(match.group(1) or 1)
    sides = int(match.group(2))
    bonus = int((match.group(3) or "0").replace(" ", ""))
    if not 1 <= count <= 20 or sides < 2:
        raise ValueError("between 1 and 20 dice, with at least 2 sides")
    rolls = [rng.randint(1, sides) for _ in range(count)]
    return rolls, sum(rolls) + bonus


@pyward.command("roll", security="everyone", help="roll 2d6+3")
def roll_command(event, args):
    try:
        rolls, total = roll(args or "1d6")
    except ValueError as error:
        return "Cannot roll: {}".format(error)
    return "{} rolled {} = {}".format(event["sender"], " + ".join(map(str, rolls)), total)
