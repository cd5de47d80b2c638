# escape: import socket through importlib
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `importlib` is refused
# kernel: sandbox_violation @ seccomp ~ `epoll_create1`
# evidence: no_connection
import importlib
def attack():
    importlib.import_module('socket')
