# expect: forbidden-attribute
# technique: an async generator's frame
async def g():
    yield 1
frame = g().ag_frame
