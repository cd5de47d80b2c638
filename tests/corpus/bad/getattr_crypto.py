# expect: dynamic-attribute
# technique: the Sekai seed's example: getattr(client, "crypto")
def run(client, args):
    return getattr(client, "crypto")
