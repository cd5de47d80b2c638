# escape: walk frames up to the host's globals to find its secret
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `object.__getattr__`
# kernel: error @ module ~ LookupError
# evidence: secret_absent
def attack():
    try:
        raise ValueError
    except ValueError as e:
        frame = e.__traceback__.tb_frame
    while frame is not None:
        for value in frame.f_globals.values():
            if isinstance(value, str) and 'pyward-escape-secret' in value:
                return value
        frame = frame.f_back
    raise LookupError('the host secret is not in this process')
