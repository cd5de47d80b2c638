# expect: forbidden-attribute
# technique: walk from a generator's frame to the caller's globals
g = (x for x in [1])
globals_of_caller = g.gi_frame.f_back.f_globals
