# expect: hook-method
# technique: a module-level __getattr__ (PEP 562) runs module code whenever the host looks up a name the module lacks
def __getattr__(name):
    return lambda *args: "hijacked " + name
