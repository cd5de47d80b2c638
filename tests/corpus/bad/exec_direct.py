# expect: forbidden-name
# technique: exec arbitrary statements
def run(event, args):
    exec(args)
