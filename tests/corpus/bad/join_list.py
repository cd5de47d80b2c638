# expect: obfuscated-string
# technique: join single letters
name = "".join(["e", "x", "e", "c"])
