"""Async stand-up collector: people post updates, a lead posts the digest to the team room."""
# call: standup "" => "Usage: standup TEXT (what you did, what is next, blockers)"
# call: standup "Fixed the signup flow; next: write tests; blocked on review" => "Noted, @alice:example.org (1 update today)."
# call: standup-post "!team:example.org" => "Posted 1 update to !team:example.org."
# call: standup-post "!team:example.org" => "No updates to post."
# call: format_digest [{"@bob:example.org": "Shipped the importer", "@ann:example.org": "Reviewing PRs; blocked on CI credentials"}, "2024-05-02"] => "Stand-up 2024-05-02 (2 people)\n- @ann:example.org: Reviewing PRs; blocked on CI credentials [blocked]\n- @bob:example.org: Shipped the importer"
import asyncio
import datetime
import textwrap

import pyward


def today():
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


async def load(chat):
    await asyncio.sleep(0)
    return pyward.kv_get("standup:" + chat, {})


async def store(chat, updates):
    await asyncio.sleep(0)
    if updates:
        pyward.kv_set("standup:" + chat, updates)
    else:
        pyward.kv_delete("standup:" + chat)


def format_digest(updates, day):
    """Pipeline step: the digest text for a set of updates."""
    lines = ["Stand-up {} ({} {})".format(day, len(updates), "person" if len(updates) == 1 else "people")]
    for person in sorted(updates):
        text = textwrap.shorten(updates[person], width=200, placeholder="...")
        flag = " [blocked]" if "blocked" in text.lower() or "blocker" in text.lower() else ""
        lines.append("- {}: {}{}".format(person, text, flag))
    return "\n".join(lines)


@pyward.command("standup", security="everyone", help="standup TEXT")
async def standup(event, args):
    text = " ".join(args.split())
    if not text:
        return "Usage: standup TEXT (what you did, what is next, blockers)"
    updates = await load(event["chat"])
    updates[event["sender"]] = text
    await store(event["chat"], updates)
    return "Noted, {} ({} update{} today).".format(
        event["sender"], len(updates), "" if len(updates) == 1 else "s")


@pyward.command("standup-post", security="sudo", help="standup-post [ROOM]: post the digest and reset")
async def standup_post(event, args):
    updates = await load(event["chat"])
    if not updates:
        return "No updates to post."
    target = args.strip() or event["chat"]
    digest = format_digest(updates, today())
    try:
        pyward.send_message(target, digest)
    except pyward.SandboxViolation:
        pyward.log("send_message not granted; replying instead", level="warning")
        return digest
    await store(event["chat"], {})
    count = len(updates)
    return "Posted {} update{} to {}.".format(count, "" if count == 1 else "s", target)
