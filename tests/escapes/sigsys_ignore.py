# escape: ignore SIGSYS so that seccomp's trap no longer stops the worker, then fork
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `import`
# kernel: sandbox_violation @ seccomp ~ `rt_sigaction`
# evidence: no_file /tmp/pyward-escape/pwned_sigsys

def real_import(name):
    import json
    return json.__builtins__['__import__'](name)
def attack():
    signal = real_import('signal')
    signal.signal(signal.SIGSYS, signal.SIG_IGN)
    os = real_import('os')
    if os.fork() == 0:
        os.close(os.open('/tmp/pyward-escape/pwned_sigsys', os.O_CREAT | os.O_WRONLY))
