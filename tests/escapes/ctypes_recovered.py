# escape: load _ctypes through the real __import__
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `import`
# kernel: sandbox_violation @ seccomp ~ `mmap`
# evidence: parent_alive

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    real_builtins()['__import__']('_ctypes')
