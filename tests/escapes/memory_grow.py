# escape: grow memory until the machine swaps
# scanned: memory_limit
# unscanned: memory_limit
# kernel: memory_limit @ rlimit
# evidence: parent_alive
def attack():
    hoard = []
    while True:
        hoard.append(' ' * 10 ** 7)
