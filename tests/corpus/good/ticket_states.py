"""Help-desk tickets with an enum state machine: new -> claimed -> resolved -> closed."""
# call: tk "claim 1" => "There is no ticket #1."
# call: ticket "!high Printer on floor 3 jams" => "Ticket #1 (HIGH) created: Printer on floor 3 jams"
# call: tk "resolve 1" => "Ticket #1 is new; it cannot be resolved. Next: claim, close."
# call: tk "claim 1" => "Ticket #1: new -> claimed by @alice:example.org"
# call: tickets "" => "#1 [claimed] HIGH Printer on floor 3 jams (@alice:example.org)"
import enum

import pyward


class State(enum.Enum):
    NEW = "new"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    CLOSED = "closed"


@enum.unique
class Action(enum.Enum):
    CLAIM = "claim"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"


class Priority(enum.IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3


TRANSITIONS = {
    (State.NEW, Action.CLAIM): State.CLAIMED,
    (State.NEW, Action.CLOSE): State.CLOSED,
    (State.CLAIMED, Action.RESOLVE): State.RESOLVED,
    (State.RESOLVED, Action.REOPEN): State.CLAIMED,
    (State.RESOLVED, Action.CLOSE): State.CLOSED,
}
PAST = {Action.CLAIM: "claimed", Action.RESOLVE: "resolved", Action.REOPEN: "reopened", Action.CLOSE: "closed"}


def load(chat):
    return pyward.kv_get("tickets:" + chat, [])


@pyward.command("ticket", security="everyone", help="ticket [!low|!high] DESCRIPTION")
def ticket(event, args):
    text = args.strip()
    priority = Priority.NORMAL
    if text.startswith("!"):
        word, _, text = text.partition(" ")
        names = {p.name.lower(): p for p in Priority}
        if word[1:].lower() not in names:
            return "Priority is one of: " + ", ".join(names)
        priority = names[word[1:].lower()]
    if not text.strip():
        return "Usage: ticket [!low|!high] DESCRIPTION"
    tickets = load(event["chat"])
    tickets.append({"text": text.strip(), "state": State.NEW.value, "priority": int(priority), "owner": None})
    pyward.kv_set("tickets:" + event["chat"], tickets)
    return "Ticket #{} ({}) created: {}".format(len(tickets), priority.name, text.strip())


@pyward.command("tk", security="sudo", help="tk claim|resolve|reopen|close N")
def tk(event, args):
    verb, _, number = args.strip().partition(" ")
    try:
        action = Action(verb.lower())
    except ValueError:
        return "Usage: tk {} N".format("|".join(a.value for a in Action))
    tickets = load(event["chat"])
    if not number.strip().isdigit() or not 1 <= int(number) <= len(tickets):
        return "There is no ticket #{}.".format(number.strip())
    item = tickets[int(number) - 1]
    state = State(item["state"])
    target = TRANSITIONS.get((state, action))
    if target is None:
        options = ", ".join(a.value for (s, a) in TRANSITIONS if s is state) or "nothing"
        return "Ticket #{} is {}; it cannot be {}. Next: {}.".format(number.strip(), state.value, PAST[action], options)
    item["state"] = target.value
    if action is Action.CLAIM:
        item["owner"] = event["sender"]
    pyward.kv_set("tickets:" + event["chat"], tickets)
    return "Ticket #{}: {} -> {} by {}".format(number.strip(), state.value, target.value, event["sender"])


@pyward.command("tickets", security="everyone", help="tickets: the ones not closed, urgent first")
def tickets_command(event, args):
    tickets = [(i + 1, t) for i, t in enumerate(load(event["chat"])) if t["state"] != State.CLOSED.value]
    if not tickets:
        return "No tickets in progress."
    tickets.sort(key=lambda pair: (-pair[1]["priority"], pair[0]))
    return "\n".join("#{} [{}] {} {} ({})".format(
        n, t["state"], Priority(t["priority"]).name, t["text"], t["owner"] or "unclaimed") for n, t in tickets)
