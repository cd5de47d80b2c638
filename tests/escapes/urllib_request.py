# escape: fetch a URL with urllib
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `urllib.request` is refused
# kernel: sandbox_violation @ seccomp ~ `mmap`
# evidence: no_connection
import urllib.request
def attack():
    urllib.request.urlopen('http://127.0.0.1:47811/')
