# escape: spin forever
# scanned: timeout
# unscanned: timeout
# kernel: timeout @ rlimit
# evidence: parent_alive
def attack():
    while True:
        pass
