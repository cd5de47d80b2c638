# escape: write with _io.FileIO imported through the real __import__
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `open`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_fileio

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    io = real_builtins()['__import__']('_io')
    io.FileIO('/tmp/pyward-escape/written_fileio', 'w').write(b'x')
