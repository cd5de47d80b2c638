# expect: forbidden-name
# technique: enumerate attributes with dir() to find hidden handles
def run(event, args):
    return [n for n in dir(event) if n.startswith("_")]
