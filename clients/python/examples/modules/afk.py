"""`.afk REASON` marks you away; anyone who then mentions you hears why. Shows events
(`@pyward.on("message")`) and the storage pyward keeps for each module."""
import pyward

pyward.manifest(events=["message"], storage_kb=16)


@pyward.command("afk", security="everyone", help="afk REASON: tell people who mention you that you are away")
def afk(event, args):
    pyward.kv_set("afk/" + event["sender"], args.strip() or "away")
    return "{} is now away".format(event["sender"])


@pyward.on("message")
def mentioned(event):
    sender = event.get("sender", "")
    if pyward.kv_delete("afk/" + sender):
        pyward.reply("welcome back, {}".format(sender))
    for name in pyward.kv_keys("afk/"):
        user = name[len("afk/"):]
        if user in event.get("text", ""):
            pyward.reply("{} is away: {}".format(user, pyward.kv_get(name)))
