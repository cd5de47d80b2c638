# escape: reach pyward's native door through a format string, then log in
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ never relayed|not granted
# kernel: sandbox_violation @ interpreter ~ not granted
# evidence: no_host_call login
import pyward
def attack():
    native = '{0.__globals__[_native]}'.format(pyward.reply) and pyward.reply.__globals__['_native']
    status, why = native.host_call('login', '{}')
    if status != 'ok':
        raise pyward.SandboxViolation(why)
