# expect: forbidden-attribute
# technique: fullwidth letters in an attribute name, normalised to __class__
c = ().__ｃｌａｓｓ__
