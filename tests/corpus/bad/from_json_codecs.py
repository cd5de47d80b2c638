# expect: forbidden-import
# technique: take the codecs module out of json
from json import codecs
