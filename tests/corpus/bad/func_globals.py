# expect: forbidden-attribute
# technique: recover a function's globals
def f():
    pass
g = f.__globals__
