# escape: multiply a string to a terabyte
# scanned: memory_limit|error
# unscanned: memory_limit|error
# evidence: parent_alive
def attack():
    return len('x' * 10 ** 12)
