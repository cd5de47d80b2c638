# expect: forbidden-import
# technique: pickle runs code on load
import pickle
