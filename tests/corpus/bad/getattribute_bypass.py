# expect: forbidden-attribute
# technique: object.__getattribute__ to skip a guarded __getattr__
def run(event, args):
    return object.__getattribute__(event, "token")
