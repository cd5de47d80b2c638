# escape: write through the io module
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `io` is refused
# evidence: no_file /tmp/pyward-escape/written_io
import io
def attack():
    io.open('/tmp/pyward-escape/written_io', 'w').write('x')
