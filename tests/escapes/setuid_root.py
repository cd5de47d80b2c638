# escape: become root again (the worker dropped to an unprivileged uid)
# scanned: scan_rejected
# unscanned: sandbox_violation @ seccomp ~ `setuid`
# kernel: sandbox_violation @ seccomp ~ `setuid`
# evidence: no_file /tmp/pyward-escape/written_setuid

def real_import(name):
    import json
    return json.__builtins__['__import__'](name)
def attack():
    os = real_import('os')
    os.setuid(0)
    os.close(os.open('/tmp/pyward-escape/written_setuid', os.O_CREAT | os.O_WRONLY))
