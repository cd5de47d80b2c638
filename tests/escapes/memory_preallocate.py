# escape: allocate a gigantic list at once
# scanned: memory_limit
# unscanned: memory_limit
# kernel: memory_limit @ rlimit
# evidence: parent_alive
def attack():
    block = [0] * (10 ** 9)
    return len(block)
