# escape: multiply a string to a terabyte
# scanned: memory_limit|error
# unscanned: memory_limit|error
# kernel: memory_limit @ rlimit
# evidence: parent_alive
def attack():
    return len('x' * 10 ** 12)
