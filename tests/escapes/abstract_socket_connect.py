# escape: connect to an abstract Unix socket
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
    c = s.socket(1, 1)
    c.connect('\0pyward-escape')
