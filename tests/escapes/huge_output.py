# escape: flood the output
# scanned: output_limit @ interpreter
# unscanned: output_limit @ interpreter
# kernel: output_limit @ interpreter
# evidence: parent_alive
def attack():
    while True:
        print('A' * 4096)
