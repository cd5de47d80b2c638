# escape: catastrophic regex backtracking
# scanned: timeout
# unscanned: timeout
# kernel: timeout @ rlimit
# evidence: parent_alive
import re
def attack():
    return bool(re.match(r'(a+)+$', 'a' * 64 + 'b'))
