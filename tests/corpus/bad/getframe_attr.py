# expect: forbidden-attribute
# technique: sys._getframe through an object that has it
def run(ctx, args):
    return ctx._getframe(1).f_globals
