#!/usr/bin/env python3
"""A tiny HTTP backend for .ci/realworld.sh.

usage: backend.py ADDRESS PORT NAME [LOAD]

GET /healthz answers 200 "ok NAME", with an X-Load: LOAD header when LOAD is
given (gslb's load_header check reads it); any other path answers 200 with
the name. One process per backend: killing it is a backend failing.
"""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "realworld-backend"

    def do_GET(self):
        body = ("ok " + NAME + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if LOAD is not None:
            self.send_header("X-Load", LOAD)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # quiet: probes come every 500 ms
        pass


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    ADDR, PORT, NAME = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    LOAD = sys.argv[4] if len(sys.argv) == 5 else None
    srv = http.server.ThreadingHTTPServer((ADDR, PORT), Handler)
    print("backend %s listening on %s:%d" % (NAME, ADDR, PORT), flush=True)
    srv.serve_forever()
