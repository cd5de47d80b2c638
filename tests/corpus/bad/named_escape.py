# expect: obfuscation
# technique: letters written as \N{} escapes
name = "\N{LATIN SMALL LETTER E}val"
