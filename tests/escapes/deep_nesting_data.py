# escape: build a million-deep structure and serialise it
# scanned: error|memory_limit|timeout
# unscanned: error|memory_limit|timeout
# kernel: error @ module ~ RecursionError
# evidence: parent_alive
import json
def attack():
    x = []
    for _ in range(10 ** 6):
        x = [x]
    return json.dumps(x)
