# escape: write a file with open() recovered from a stdlib module's builtins
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `open`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_recovered

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    real_builtins()['open']('/tmp/pyward-escape/written_recovered', 'w').write('pwned')
