# expect: module-attribute
# technique: walk from an allowed module to builtins through the modules it imports (re -> enum -> builtins)
import re


def run(event, args):
    return re.enum.bltns.vars(event)
