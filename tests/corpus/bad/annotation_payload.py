# expect: forbidden-string
# technique: code hidden in a string annotation
x: "__import__('os').system('id')" = 1
