# expect: forbidden-attribute
# technique: the catch_warnings class route to builtins
w = [c for c in object.__subclasses__() if c.__name__ == "catch_warnings"][0]
