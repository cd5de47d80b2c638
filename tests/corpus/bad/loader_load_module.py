# expect: forbidden-name
# technique: load a module through __loader__
m = __loader__.load_module("o" + "s")
