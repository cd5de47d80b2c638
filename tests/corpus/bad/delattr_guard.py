# expect: dynamic-attribute
# technique: delete a private guard attribute
def run(event, args):
    delattr(event, "_guard")
