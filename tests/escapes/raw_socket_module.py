# escape: import the _socket extension directly
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `import`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_connection

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    s = real_builtins()['__import__']('_socket')
    s.socket(2, 1).connect(('127.0.0.1', 47811))
