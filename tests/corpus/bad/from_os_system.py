# expect: forbidden-import
# technique: from os import system
from os import system
system("id")
