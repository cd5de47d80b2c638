# expect: obfuscated-string
# technique: split the name: "ev" + "al"
name = "ev" + "al"
