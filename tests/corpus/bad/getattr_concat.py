# expect: dynamic-attribute
# technique: getattr with a concatenated forbidden name
def run(client, args):
    return getattr(client, "cry" + "pto")
