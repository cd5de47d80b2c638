# expect: obfuscation
# technique: letters written as \x escapes
name = "\x65\x76\x61\x6c"
