# escape: start worker processes
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `import`
# kernel: sandbox_violation @ seccomp ~ `rt_sigaction`
# evidence: parent_alive

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    mp = real_builtins()['__import__']('multiprocessing')
    mp.Pool(4)
