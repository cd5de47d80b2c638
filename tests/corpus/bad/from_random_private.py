# expect: forbidden-import
# technique: import an allowed module's private handle on os
from random import _os
