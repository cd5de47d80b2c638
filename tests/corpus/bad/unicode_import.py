# expect: forbidden-import
# technique: fullwidth module name normalised to os
import ｏｓ
