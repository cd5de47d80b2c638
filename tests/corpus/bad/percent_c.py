# expect: obfuscation
# technique: %c with code points
name = "%c%c" % (111, 115)
