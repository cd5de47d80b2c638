# expect: dynamic-attribute
# technique: take getattr as a value to call it later
g = getattr
value = g(object, "mro")
