# expect: forbidden-string
# technique: build a class with a hostile __getattr__ via type()
Evil = type("Evil", (), {"__getattr__": lambda self, n: n})
