# expect: dynamic-attribute
# technique: getattr with a name only known at run time
def run(client, args):
    return getattr(client, args)
