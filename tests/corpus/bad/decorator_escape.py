# expect: forbidden-attribute
# technique: smuggle an escape into a decorator expression
@(lambda f: f.__globals__)
def x():
    pass
