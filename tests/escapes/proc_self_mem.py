# escape: open /proc/self/mem for writing to patch the interpreter's own code (CPython has os)
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `open`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_procmem

def real_import(name):
    import json
    return json.__builtins__['__import__'](name)
def attack():
    os = real_import('os')
    fd = os.open('/proc/self/mem', os.O_RDWR)
    os.lseek(fd, id(attack), 0)
    os.write(fd, b'\x00' * 8)
    os.close(os.open('/tmp/pyward-escape/written_procmem', os.O_CREAT | os.O_WRONLY))
