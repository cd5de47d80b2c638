# escape: write through codecs.open reached via json
# scanned: scan_rejected
# unscanned: error @ module ~ UnsupportedOperation
# evidence: no_file /tmp/pyward-escape/written_codecs
import json
def attack():
    json.codecs.open('/tmp/pyward-escape/written_codecs', 'w').write('x')
