# expect: parse-error
# technique: Python 2 syntax
print "hello"
