# expect: obfuscated-string
# technique: pieces in variables
a = "ev"
b = a + "al"
