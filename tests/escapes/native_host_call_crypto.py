# escape: call the host's crypto API through pyward's native door
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ never relayed|not granted
# kernel: sandbox_violation @ interpreter ~ not granted
# evidence: no_host_call crypto
import pyward
def attack():
    native = pyward.reply.__globals__['_native']
    status, why = native.host_call('crypto', '{}')
    if status != 'ok':
        raise pyward.SandboxViolation(why)
