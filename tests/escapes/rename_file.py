# escape: rename a file with os.rename
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `os` is refused
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: file_intact /tmp/pyward-escape/victim.txt
import os
def attack():
    os.rename('/tmp/pyward-escape/victim.txt', '/tmp/pyward-escape/moved')
