# expect: forbidden-name
# technique: read the caller's variables with locals()
def run(event, args):
    return locals()
