# expect: forbidden-string
# technique: an os.system call in text for a host that evals
snippet = "os.system('id')"
