# expect: forbidden-attribute
# technique: a class pattern keyword reads an attribute without a dot
def run(event, args):
    match event:
        case object(__class__=cls):
            return cls
