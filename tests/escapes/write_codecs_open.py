# escape: write through codecs.open reached via json
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `open`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_codecs
import json
def attack():
    json.codecs.open('/tmp/pyward-escape/written_codecs', 'w').write('x')
