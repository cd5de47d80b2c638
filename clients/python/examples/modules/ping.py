"""`.ping`: answers with how long the message took to reach the module."""
import time

import pyward


@pyward.command("ping", security="everyone", help="Is the bot alive?")
def ping(event, args):
    sent_ms = event.get("sent_ms")
    if sent_ms is None:
        return "pong"
    return "pong — {:.1f} ms".format(time.time() * 1000 - sent_ms)
