# expect: hook-method
# technique: a finaliser runs module code whenever the interpreter collects the object, after the call returned
class Later:
    def __del__(self):
        print("still running")


def run(event, args):
    Later()
    return "done"
