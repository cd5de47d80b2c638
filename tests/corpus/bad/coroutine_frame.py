# expect: forbidden-attribute
# technique: read a coroutine's frame
async def c():
    pass
frame = c().cr_frame
