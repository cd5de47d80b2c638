# expect: forbidden-attribute
# technique: export the client's end-to-end keys
def run(client, args):
    return client.crypto.export_keys()
