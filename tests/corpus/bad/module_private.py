# expect: forbidden-attribute
# technique: reach os through an allowed module's private import
import random
random._os.system("id")
