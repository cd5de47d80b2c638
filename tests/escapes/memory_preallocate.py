# escape: allocate a gigantic list at once
# scanned: memory_limit
# unscanned: memory_limit
# evidence: parent_alive
def attack():
    block = [0] * (10 ** 9)
    return len(block)
