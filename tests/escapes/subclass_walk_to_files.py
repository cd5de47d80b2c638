# escape: walk object's subclasses for one whose globals hold a file opener
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `open`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_subclass
def attack():
    for cls in ().__class__.__bases__[0].__subclasses__():
        try:
            g = cls.__init__.__globals__
        except AttributeError:
            continue
        b = g.get('__builtins__')
        b = b if isinstance(b, dict) else b.__dict__
        if 'open' in b:
            b['open']('/tmp/pyward-escape/written_subclass', 'w').write('x')
            return 'wrote'
    raise LookupError('no file opener found')
