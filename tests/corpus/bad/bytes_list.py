# expect: obfuscation
# technique: a name as a list of byte values
name = bytes([111, 115]).decode()
