# escape: getattr with a name built at run time to reach pyward internals
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `builtins.getattr`
# kernel: ok
# evidence: no_host_call login
import pyward
def attack():
    native = getattr(pyward, '_' + 'native')
    native.host_call('login', '{}')
