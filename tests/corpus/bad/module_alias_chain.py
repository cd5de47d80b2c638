# expect: module-attribute
# technique: the same chain after a from-import and a rebinding, where the old check looked only at `import x` names
from re import enum

e = enum
b = e.bltns


def run(event, args):
    return b.vars(event)
