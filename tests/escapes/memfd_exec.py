# escape: write an executable into a memfd and exec it (Landlock does not see memfd_create)
# scanned: scan_rejected
# unscanned: sandbox_violation @ seccomp ~ `memfd_create`
# kernel: sandbox_violation @ seccomp ~ `memfd_create`
# evidence: no_file /tmp/pyward-escape/pwned_memfd

def real_import(name):
    import json
    return json.__builtins__['__import__'](name)
def attack():
    os = real_import('os')
    fd = os.memfd_create('x')
    os.write(fd, b'#!/bin/sh\ntouch /tmp/pyward-escape/pwned_memfd\n')
    os.execv('/proc/self/fd/%d' % fd, ['x'])
