# expect: obfuscation
# technique: decode escapes at run time with the unicode_escape codec
name = b"\\x5f\\x5fimport\\x5f\\x5f".decode("unicode_escape")
