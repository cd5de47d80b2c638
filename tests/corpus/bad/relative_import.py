# expect: relative-import
# technique: relative import reaches the host package
from .. import secrets
