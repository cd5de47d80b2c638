# expect: forbidden-attribute
# technique: walk a traceback to the host's frames
try:
    1 / 0
except ZeroDivisionError as e:
    host = e.__traceback__.tb_frame.f_back.f_globals
