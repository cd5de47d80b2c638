# expect: module-attribute
# technique: hand an allowed module to a function, whose parameter's attributes nobody checks
import enum


def reach(m):
    return m.bltns


def run(event, args):
    return reach(enum)
