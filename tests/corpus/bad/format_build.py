# expect: obfuscated-string
# technique: .format the pieces together
name = "{}{}".format("cryp", "to")
