# escape: spawn a process with subprocess
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `subprocess` is refused
# kernel: sandbox_violation @ seccomp ~ `rt_sigaction`
# evidence: no_file /tmp/pyward-escape/pwned_subprocess
import subprocess
def attack():
    subprocess.run(['touch', '/tmp/pyward-escape/pwned_subprocess'])
