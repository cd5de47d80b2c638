# escape: read the supervisor's secret from os.environ
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `os` is refused
# kernel: error @ module ~ KeyError
# evidence: secret_absent
import os
def attack():
    return os.environ['PYWARD_ESCAPE_SECRET']
