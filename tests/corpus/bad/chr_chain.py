# expect: obfuscation
# technique: the pipeline seed's chr() chain
name = chr(101) + chr(118) + chr(97) + chr(108)
