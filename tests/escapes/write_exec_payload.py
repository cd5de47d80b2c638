# escape: run a write payload through exec() recovered from builtins
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `compile`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_exec

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    real_builtins()['exec']("open('/tmp/pyward-escape/written_exec', 'w').write('x')")
