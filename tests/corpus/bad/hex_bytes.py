# expect: obfuscation
# technique: the pipeline seed's hex byte injection
payload = b"\x6f\x73"
