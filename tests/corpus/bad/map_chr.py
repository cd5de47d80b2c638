# expect: obfuscation
# technique: map(chr, codes)
name = "".join(map(chr, [101, 118, 97, 108]))
