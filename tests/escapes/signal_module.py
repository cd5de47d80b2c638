# escape: send signals with the signal module
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `import`
# kernel: sandbox_violation @ seccomp ~ `rt_sigaction`
# evidence: parent_alive

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    signal = real_builtins()['__import__']('signal')
    signal.pthread_kill(1, 9)
