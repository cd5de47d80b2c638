# expect: dynamic-attribute
# technique: getattr passed to map()
names = list(map(getattr, [object], ["mro"]))
