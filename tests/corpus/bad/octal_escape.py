# expect: obfuscation
# technique: letters written as octal escapes
name = "\145\166\141\154"
