# escape: delete a tree with shutil
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `shutil` is refused
# kernel: sandbox_violation @ seccomp ~ `mmap`
# evidence: file_intact /tmp/pyward-escape/victim.txt
import shutil
def attack():
    shutil.rmtree('/tmp/pyward-escape')
