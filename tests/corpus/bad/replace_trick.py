# expect: obfuscated-string
# technique: filler characters removed with replace()
name = "eXvXaXl".replace("X", "")
