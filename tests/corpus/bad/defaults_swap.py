# expect: forbidden-attribute
# technique: rewrite a function's default arguments
def f(limit=10):
    return limit
f.__defaults__ = (10 ** 9,)
