# escape: compute 9**9**9
# scanned: timeout|memory_limit
# unscanned: timeout|memory_limit
# kernel: timeout @ rlimit
# evidence: parent_alive
def attack():
    return str(9 ** 9 ** 9)[:10]
