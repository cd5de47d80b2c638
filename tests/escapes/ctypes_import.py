# escape: load ctypes to call libc
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `ctypes` is refused
# kernel: sandbox_violation @ seccomp ~ `mmap`
# evidence: parent_alive
import ctypes
def attack():
    ctypes.CDLL(None).kill(1, 9)
