# expect: forbidden-name
# technique: exit() to kill the host process (in-process fences)
def run(event, args):
    exit(0)
