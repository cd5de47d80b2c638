# escape: hex-encoded payload executed through recovered exec
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `compile`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_payload

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    code = bytes.fromhex('6f70656e28272f746d702f7079776172642d6573636170652f7772697474656e5f7061796c6f6164272c20277727292e77726974652827782729').decode()
    real_builtins()['exec'](code)
