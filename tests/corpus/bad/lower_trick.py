# expect: obfuscated-string
# technique: upper-case then lower()
name = "EXEC".lower()
