# escape: write a file with open()
# scanned: scan_rejected
# unscanned: error @ module ~ NameError
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_open
def attack():
    open('/tmp/pyward-escape/written_open', 'w').write('pwned')
