# escape: write with pathlib
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `pathlib` is refused
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_file /tmp/pyward-escape/written_pathlib
import pathlib
def attack():
    pathlib.Path('/tmp/pyward-escape/written_pathlib').write_text('x')
