# expect: forbidden-import
# technique: open a network connection
import socket
s = socket.create_connection(("203.0.113.1", 80))
