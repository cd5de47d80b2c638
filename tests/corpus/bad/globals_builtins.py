# expect: forbidden-name
# technique: reach builtins through globals()
b = globals()["__bu" + "iltins__"]
