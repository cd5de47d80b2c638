# expect: forbidden-attribute
# technique: __reduce_ex__ hands out constructors and state
state = [].__reduce_ex__(2)
