"""Ping: answers with the time the bot took to see the message."""
import time

import pyward


@pyward.command("ping", security="everyone", help="Check that the bot is alive")
def ping(event, args):
    sent = event.get("timestamp_ms")
    now = int(time.time() * 1000)
    if sent is None:
        return "pong"
    return "pong ({} ms)".format(max(0, now - sent))
