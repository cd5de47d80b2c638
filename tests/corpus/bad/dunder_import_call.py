# expect: forbidden-name
# technique: __import__ a module the allowlist would refuse
os = __import__("o" "s")
os.system("id")
