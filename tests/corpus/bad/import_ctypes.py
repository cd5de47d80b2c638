# expect: forbidden-import
# technique: ctypes to poke memory (seed: memory hacks)
import ctypes
ctypes.memmove(0, 0, 1)
