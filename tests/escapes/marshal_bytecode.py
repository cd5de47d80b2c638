# escape: build a code object from raw marshal bytes
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `marshal.loads`
# kernel: error @ module ~ ValueError
# evidence: parent_alive

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    marshal = real_builtins()['__import__']('marshal')
    code = marshal.loads(b'\xe3' + b'\xff' * 64)
    return str(code)
