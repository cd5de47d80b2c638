# expect: forbidden-import
# technique: import os to run commands
import os
os.system("id")
