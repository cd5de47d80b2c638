# escape: fullwidth exec that Python normalises
# scanned: scan_rejected
# unscanned: error @ module ~ NameError
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_unicode
def attack():
    ｅｘｅｃ("open('/tmp/pyward-escape/written_unicode', 'w')")
