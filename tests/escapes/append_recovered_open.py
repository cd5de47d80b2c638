# escape: append to an existing file
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `open`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: file_intact /tmp/pyward-escape/victim.txt

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    real_builtins()['open']('/tmp/pyward-escape/victim.txt', 'a').write('pwned')
