# expect: forbidden-name
# technique: fullwidth letters that Python normalises to eval (NFKC)
def run(event, args):
    return ｅｖａｌ(args)
