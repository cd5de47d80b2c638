# expect: forbidden-import
# technique: importlib to import by name
import importlib
m = importlib.import_module("o" + "s")
