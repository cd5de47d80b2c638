# expect: forbidden-name
# technique: call eval on attacker-controlled text
def run(event, args):
    return eval(args)
