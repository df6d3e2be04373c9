"""Client `auto` mode (h2c first, HTTP/1.1 if the peer wants) against servers that speak only
HTTP/1.1 and answer the h2c preface in their own way: Python's http.server (an HTML error page
without a status line) and a Node.js `http` server (an HTTP/1.1 400). Any answer to the
preface that is not a SETTINGS frame marks the origin HTTP/1.1 and the call, never
processed, goes out again over the keep-alive pool: `hopwire call URL` succeeds.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
import hoptest  # noqa: E402
from hoptest import CLI, check  # noqa: E402

PY_SERVER = r'''
import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        b = self.rfile.read(n)
        self.send_response(200)
        self.send_header("content-type", self.headers.get("content-type", "application/json"))
        self.send_header("content-length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("listening on 127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
'''

NODE_SERVER = r'''
const http = require("http");
const s = http.createServer((req, res) => {
  const parts = [];
  req.on("data", (d) => parts.push(d));
  req.on("end", () => {
    const b = Buffer.concat(parts);
    res.writeHead(200, {"content-type": req.headers["content-type"] || "application/json",
                        "content-length": b.length});
    res.end(b);
  });
});
s.listen(0, "127.0.0.1", () => console.log("listening on 127.0.0.1:" + s.address().port));
'''


def call(url, *args):
    p = subprocess.run([CLI, "call", url, *args], capture_output=True, timeout=30)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def main():
    peers = [("python http.server", ["/usr/bin/python3", "-c", PY_SERVER]),
             ("node http", ["node", "-e", NODE_SERVER])]
    for name, argv in peers:
        peer = hoptest.Proc(argv)
        try:
            url = "http://127.0.0.1:%d/hopwire.bench.v1.BenchService/Echo" % peer.port
            for i in range(3):
                rc, out, err = call(url, "-d", '{"text":"hi %d"}' % i)
                check(rc == 0 and out == b'{"text":"hi %d"}' % i,
                      "%s: auto mode falls back to HTTP/1.1 (run %d; rc %d, out %r, err %r)"
                      % (name, i, rc, out, err.strip()))
            rc, out, err = call(url, "-d", '{"text":"x"}', "--http", "h2c")
            check(rc == 1 and "protocol error" in err,
                  "%s: --http h2c fails with a clear protocol error (rc %d, %r)"
                  % (name, rc, err.strip()))
        finally:
            peer.stop()


if __name__ == "__main__":
    main()
