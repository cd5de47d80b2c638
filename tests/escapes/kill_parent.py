# escape: kill the supervisor with os.kill
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `os` is refused
# kernel: sandbox_violation @ seccomp ~ `getppid`
# evidence: parent_alive
import os
def attack():
    os.kill(os.getppid(), 9)
