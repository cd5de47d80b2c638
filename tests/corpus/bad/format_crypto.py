# expect: forbidden-string
# technique: str.format reads a sensitive attribute
def run(client, args):
    return "{0.crypto}".format(client)
