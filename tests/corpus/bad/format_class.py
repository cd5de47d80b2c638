# expect: forbidden-string
# technique: str.format walks attributes: {0.__class__}
def run(event, args):
    return "{0.__class__.__mro__}".format(event)
