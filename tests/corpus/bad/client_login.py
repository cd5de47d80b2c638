# expect: forbidden-attribute
# technique: session control: log the bot in as someone else
def run(client, args):
    client.login("attacker", "pw")
