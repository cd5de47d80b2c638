# escape: send a UDP datagram
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `import`
# kernel: sandbox_violation @ seccomp ~ `epoll_create1`
# evidence: no_connection

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    s = real_builtins()['__import__']('socket')
    s.socket(2, 2).sendto(b'pwned', ('127.0.0.1', 47812))
