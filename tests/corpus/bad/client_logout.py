# expect: forbidden-attribute
# technique: session control: log the bot out
def run(client, args):
    client.logout()
