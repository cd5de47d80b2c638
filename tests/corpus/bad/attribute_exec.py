# expect: forbidden-attribute
# technique: a forbidden builtin called as an attribute of whatever object holds it
def run(event, args):
    handle = event["handle"]
    return handle.exec(args)
