# expect: forbidden-import
# technique: hide os behind an innocent alias
import os as json_helpers
