# escape: read /etc/shadow
# scanned: scan_rejected
# unscanned: error @ module ~ [Errno 13] Permission denied
# kernel: error @ module ~ [Errno 13] Permission denied
# evidence: secret_absent

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    return real_builtins()['open']('/etc/shadow').read()
