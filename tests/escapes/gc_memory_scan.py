# escape: search every object in memory for the host's secret
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `gc.get_objects`
# kernel: error @ module ~ LookupError
# evidence: secret_absent

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    gc = real_builtins()['__import__']('gc')
    for obj in gc.get_objects():
        if isinstance(obj, str) and 'pyward-escape-secret' in obj and 'not in this process' not in obj:
            return obj
    raise LookupError('the secret is not in this process')
