# expect: obfuscation
# technique: an encoded payload decoded with bytes.fromhex
name = bytes.fromhex("5f5f696d706f72745f5f").decode()
