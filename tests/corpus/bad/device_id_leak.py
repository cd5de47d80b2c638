# expect: forbidden-attribute
# technique: leak the device id
def run(client, args):
    return client.device_id
