# expect: obfuscated-string
# technique: implicit concatenation of adjacent literals
name = "cryp" "to"
