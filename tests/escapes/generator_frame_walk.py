# escape: walk from a generator's frame to its caller's globals
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `object.__getattr__`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_genframe
def attack():
    gen = (x for x in [1])
    frame = gen.gi_frame
    b = frame.f_builtins
    b = b if isinstance(b, dict) else b.__dict__
    b['open']('/tmp/pyward-escape/written_genframe', 'w').write('x')
