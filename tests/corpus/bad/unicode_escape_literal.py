# expect: obfuscation
# technique: letters written as \u escapes
name = "\u0065\u0078\u0065\u0063"
