# expect: parse-error
# technique: source that does not parse cannot be judged
def run(event, args)
    return 1
