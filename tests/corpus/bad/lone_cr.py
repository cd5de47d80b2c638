# expect: lone-carriage-return
# technique: a lone CR hides a line from line-based readers
x = 1  # harmlessimport os
