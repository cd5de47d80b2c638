# expect: obfuscated-string
# technique: %-format the pieces together
name = "%s%s" % ("ev", "al")
