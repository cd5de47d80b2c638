# expect: forbidden-name
# technique: dump an object's namespace with vars()
def run(event, args):
    return vars(event)
