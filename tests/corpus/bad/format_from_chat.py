# expect: format-string
# technique: the chat message is the format string, so a user can send "{0.__class__.__init__.__globals__}"
def run(event, args):
    return args.format(event)
