# expect: forbidden-attribute
# technique: replace a function's code object
def a():
    return 1
def b():
    return 2
a.__code__ = b.__code__
