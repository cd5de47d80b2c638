# expect: forbidden-attribute
# technique: write into an object's __dict__ to bypass properties
def run(event, args):
    event.__dict__["admin"] = True
