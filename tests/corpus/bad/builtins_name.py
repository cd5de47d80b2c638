# expect: forbidden-name
# technique: index the __builtins__ global
ev = __builtins__["ev" "al"]
