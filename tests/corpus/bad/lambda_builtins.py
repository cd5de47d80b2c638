# expect: forbidden-attribute
# technique: recover builtins from a lambda's globals
imp = (lambda: 0).__globals__["__builtins__"]["__import__"]
