# expect: forbidden-attribute
# technique: read another function's closure cells
def outer():
    secret = 1
    def inner():
        return secret
    return inner
leak = outer().__closure__[0].cell_contents
