# expect: forbidden-import
# technique: sys for modules and frames
import sys
os = sys.modules["os"]
