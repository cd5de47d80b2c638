# expect: forbidden-name
# technique: memoryview to poke at buffers
m = memoryview(b"abc")
