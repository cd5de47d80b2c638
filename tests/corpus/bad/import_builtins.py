# expect: forbidden-import
# technique: import builtins directly
import builtins
