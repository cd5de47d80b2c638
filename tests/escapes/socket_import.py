# escape: import socket and connect out
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `socket` is refused
# kernel: sandbox_violation @ seccomp ~ `epoll_create1`
# evidence: no_connection
import socket
def attack():
    socket.create_connection(('127.0.0.1', 47811)).sendall(b'pwned')
