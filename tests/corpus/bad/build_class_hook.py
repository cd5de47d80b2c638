# expect: forbidden-name
# technique: replace __build_class__ to intercept class creation
__build_class__ = None
