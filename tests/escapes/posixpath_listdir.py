# escape: list a directory through the os.path shim
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `os` is refused
# kernel: error @ module ~ [Errno 13] Permission denied
# evidence: secret_absent
import os
def attack():
    return os.listdir('/tmp/pyward-escape')
