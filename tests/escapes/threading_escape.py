# escape: start threads to race the sandbox
# scanned: scan_rejected
# unscanned: error @ module ~ RuntimeError
# kernel: error @ module ~ RuntimeError
# evidence: parent_alive

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    threading = real_builtins()['__import__']('threading')
    threading.Thread(target=print).start()
