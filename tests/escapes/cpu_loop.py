# escape: spin forever
# scanned: timeout
# unscanned: timeout
# evidence: parent_alive
def attack():
    while True:
        pass
