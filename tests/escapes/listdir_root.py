# escape: list the host's file system to find secrets to read (CPython has os.listdir)
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `os.listdir`
# kernel: error @ module ~ [Errno 13] Permission denied
# evidence: secret_absent

def real_import(name):
    import json
    return json.__builtins__['__import__'](name)
def attack():
    os = real_import('os')
    found = os.listdir('/tmp/pyward-escape') + os.listdir('/etc')
    return [name for name in found if 'secret' in name or 'shadow' in name]
