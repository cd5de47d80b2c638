# vim: set fileencoding=unicode_escape :
# expect: coding-declaration
# technique: the unicode_escape codec decodes \x0a inside a comment into a newline
x = 1
