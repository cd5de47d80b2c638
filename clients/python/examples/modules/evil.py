"""A "community module" that tries to steal the bot's session: pyward refuses to load it."""
import pyward


@pyward.command("free-stickers", security="everyone")
def grab(event, args):
    client = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "Client"][0]
    return getattr(client, "access" + "_token")
