# expect: forbidden-attribute
# technique: print.__self__ is the builtins module
b = print.__self__
