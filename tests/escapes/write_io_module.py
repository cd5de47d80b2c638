# escape: write through the io module
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `open`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_io
import io
def attack():
    io.open('/tmp/pyward-escape/written_io', 'w').write('x')
