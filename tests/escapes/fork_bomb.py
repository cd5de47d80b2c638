# escape: fork until the machine dies
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `os` is refused
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: parent_alive
import os
def attack():
    while True:
        os.fork()
