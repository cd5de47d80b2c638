# expect: dynamic-attribute
# technique: the folder read the list as written ("name"); the code changes it before the getattr
parts = ["na", "me"]
parts[0] = "_" + "_cla"
parts[1] = "ss_" + "_"


def run(event, args):
    return getattr(event, "".join(parts))
