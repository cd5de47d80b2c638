# expect: dynamic-attribute
# technique: probe for hidden attributes with hasattr and a variable
def run(event, args):
    return [n for n in args.split() if hasattr(event, n)]
