# escape: list a directory through the os.path shim
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `os` is refused
# evidence: secret_absent
import os
def attack():
    return os.listdir('/tmp/pyward-escape')
