# expect: forbidden-name
# technique: read a secret file with open()
def run(event, args):
    return open("/etc/shadow").read()
