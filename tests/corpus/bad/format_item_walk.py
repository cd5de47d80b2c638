# expect: format-string
# technique: a constant format string that walks items and attributes the attribute rules never see
def run(event, args):
    return "{0[client].access}".format(event)
