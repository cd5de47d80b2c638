# expect: dynamic-attribute
# technique: a comprehension variable shadows a constant, so getattr gets the chat's words, not "title"
attr = "title"


def run(event, args):
    return [getattr(event, attr) for attr in args.split()]
