# expect: forbidden-attribute
# technique: climb the MRO from a str to object
base = "".__class__.__mro__[-1]
