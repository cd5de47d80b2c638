# expect: star-import
# technique: star import hides what is taken
from math import *
