# expect: obfuscated-string
# technique: f-string pieces
name = f"{'ev'}{'al'}"
