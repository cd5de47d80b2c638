# escape: run a shell command with os.system
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `os` is refused
# kernel: ok
# evidence: no_file /tmp/pyward-escape/pwned_system
import os
def attack():
    os.system('touch /tmp/pyward-escape/pwned_system')
