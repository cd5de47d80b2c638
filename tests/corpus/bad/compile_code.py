# expect: forbidden-name
# technique: compile a code object to run later
code = compile("x = 1", "<m>", "exec")
