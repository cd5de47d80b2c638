# expect: forbidden-attribute
# technique: walk object's subclasses to find a class with os in its globals
for c in ().__class__.__bases__[0].__subclasses__():
    if c.__name__ == "Popen":
        c(["id"])
