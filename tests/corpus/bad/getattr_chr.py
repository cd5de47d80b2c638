# expect: dynamic-attribute
# technique: getattr with a name spelled from chr() codes
c = getattr((), chr(95) * 2 + "class" + chr(95) * 2)
