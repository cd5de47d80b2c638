# expect: obfuscated-string
# technique: reverse a string: "lave"[::-1]
name = "lave"[::-1]
