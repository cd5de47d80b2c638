# expect: not-utf8
# technique: Latin-1 bytes that are not UTF-8
name = 'éval'
