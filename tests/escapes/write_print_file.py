# escape: write with print(file=open(...))
# scanned: scan_rejected
# unscanned: error @ module ~ NameError
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_print
def attack():
    print('x', file=open('/tmp/pyward-escape/written_print', 'w'))
