# expect: forbidden-name
# technique: drop into the debugger
breakpoint()
