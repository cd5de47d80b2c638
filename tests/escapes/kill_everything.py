# escape: kill every process on the machine
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `os` is refused
# kernel: sandbox_violation @ seccomp ~ `kill`
# evidence: parent_alive
import os
def attack():
    os.kill(-1, 9)
