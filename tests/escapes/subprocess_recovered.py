# escape: spawn a process with subprocess via the real __import__
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `import`
# kernel: sandbox_violation @ seccomp ~ `rt_sigaction`
# evidence: no_file /tmp/pyward-escape/pwned_subprocess2

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    sp = real_builtins()['__import__']('subprocess')
    sp.run(['touch', '/tmp/pyward-escape/pwned_subprocess2'])
