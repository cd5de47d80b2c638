# expect: forbidden-string
# technique: a destructive shell command
cmd = "rm -rf / --no-preserve-root"
