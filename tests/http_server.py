"""A test web server for brokered HTTP (tests/http.rs, scripts/bench-http). Run inside the test's
network namespace: plain HTTP on port 80 and HTTPS on 443 (a certificate from the test's own
CA), same routes on both. Prints "ready" once both listen. Standard library only.

Routes: /hello, /echo (echoes method, body and content-type), /bytes (0..255), /big?n=N
(N bytes with a Content-Length), /stream?n=N (N bytes, no length: read until close),
/redirect?to=URL[&code=302], /loop (redirects to itself), /hang (answers after 20 s)."""

import argparse
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=(), length=True):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        n = min(int(query.get("n", "0")), 64 << 20)
        if url.path == "/hello":
            return self.answer(200, b"hello from the test server", [("X-Test", "yes"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        if url.path == "/echo":
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size)
            return self.answer(200, body, [("X-Method", self.command), ("X-Content-Type", self.headers.get("Content-Type", "")), ("X-Auth", self.headers.get("Authorization", ""))])
        if url.path == "/bytes":
            return self.answer(200, bytes(range(256)), [("Content-Type", "application/octet-stream")])
        if url.path == "/big":
            return self.answer(200, b"x" * n)
        if url.path == "/stream":
            self.send_response(200)
            self.end_headers()
            sent = 0
            while sent < n:
                chunk = min(16384, n - sent)
                self.wfile.write(b"y" * chunk)
                sent += chunk
            return None
        if url.path == "/redirect":
            return self.answer(int(query.get("code", "302")), headers=[("Location", query["to"])])
        if url.path == "/loop":
            return self.answer(302, headers=[("Location", "/loop")])
        if url.path == "/hang":
            time.sleep(20)
            return self.answer(200, b"late")
        return self.answer(404, b"no such route")

    def do_GET(self):
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = do_GET


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--addr", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    ThreadingHTTPServer.daemon_threads = True
    plain = ThreadingHTTPServer((args.addr, 80), Handler)
    secure = ThreadingHTTPServer((args.addr, 443), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    for server in (plain, secure):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    # Ends when the test closes our stdin (or kills us).
    sys.stdin.read()


if __name__ == "__main__":
    main()
