# expect: dynamic-attribute
# technique: setattr to swap an object's class
class Evil:
    pass
def run(event, args):
    setattr(event, "__class__", Evil)
