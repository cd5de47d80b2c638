# expect: forbidden-attribute
# technique: use the raw client API behind the module's back
def run(client, args):
    client.api.send("!room", "spam")
