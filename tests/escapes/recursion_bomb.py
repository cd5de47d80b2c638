# escape: recurse without end
# scanned: error @ module ~ RecursionError
# unscanned: error @ module ~ RecursionError
# kernel: error @ module ~ RecursionError
# evidence: parent_alive
def attack():
    return attack()
