"""Points and a leaderboard per chat, using a sorted view of the store."""
import json

import pyward


def _board(chat):
    return json.loads(pyward.kv_get("board:" + chat, "{}"))


@pyward.command("give", security="sudo", help="give USER POINTS")
def give(event, args):
    user, _, points = args.rpartition(" ")
    if not user or not points.lstrip("-").isdigit():
        return "Usage: give USER POINTS"
    board = _board(event["chat"])
    board[user] = board.get(user, 0) + int(points)
    pyward.kv_set("board:" + event["chat"], json.dumps(board))
    return "{} now has {} points".format(user, board[user])


@pyward.command("top", security="everyone", help="The leaderboard")
def top(event, args):
    board = _board(event["chat"])
    ranked = sorted(board.items(), key=lambda item: (-item[1], item[0]))[:10]
    if not ranked:
        return "Nobody has points yet."
    medals = ["\U0001F947", "\U0001F948", "\U0001F949"]
    lines = []
    for place, (user, points) in enumerate(ranked):
        marker = medals[place] if place < len(medals) else "{}.".format(place + 1)
        lines.append("{} {} \u2014 {}".format(marker, user, points))
    return "\n".join(lines)
