# escape: import os through recovered builtins and spawn a shell
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `os.exec`
# kernel: sandbox_violation @ seccomp ~ `execve`
# evidence: no_file /tmp/pyward-escape/pwned_shim

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    os = real_builtins()['__import__']('os')
    os.execv('/bin/sh', ['sh', '-c', 'touch /tmp/pyward-escape/pwned_shim'])
