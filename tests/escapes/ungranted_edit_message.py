# escape: use a host call the module's tier does not grant
# scanned: error @ module ~ AttributeError
# unscanned: error @ module ~ AttributeError
# kernel: error @ module ~ AttributeError
# evidence: no_host_call edit_message
import pyward
def attack():
    pyward.edit_message('1', 'defaced')
