# expect: forbidden-import
# technique: spawn a shell
import subprocess
subprocess.run(["sh", "-c", "id"])
