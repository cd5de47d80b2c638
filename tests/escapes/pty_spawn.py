# escape: spawn a shell on a pseudo-terminal
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `pty` is refused
# kernel: sandbox_violation @ seccomp ~ `mmap`
# evidence: parent_alive
import pty
def attack():
    pty.spawn('/bin/sh')
