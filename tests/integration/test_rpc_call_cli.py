"""`hopwire call` against `hopwire serve` and against a @connectrpc/connect-node server:
output, exit codes (0 ok, 1 RPC/transport error, 2 usage) and stderr messages."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
import hoptest  # noqa: E402
from hoptest import CLI, check  # noqa: E402

SRC = os.environ.get("HOP_SOURCE_DIR", ".")
INTEROP = os.path.join(SRC, "tests", "interop")
ECHO = "/hopwire.bench.v1.BenchService/Echo"


def call(*args, stdin=None):
    p = subprocess.run([CLI, "call", *args], input=stdin, capture_output=True, timeout=30)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def main():
    if not os.path.isdir(os.path.join(INTEROP, "node_modules", "@connectrpc", "connect-node")):
        print("FAIL: tests/interop/node_modules missing: run scripts/setup.sh", file=sys.stderr)
        sys.exit(1)
    srv = hoptest.serve()
    slow = hoptest.serve("--delay", "500ms")
    node = hoptest.Proc(["node", os.path.join(INTEROP, "connect_server.mjs"), "--http", "2"])
    try:
        url = "http://127.0.0.1:%d%s" % (srv.port, ECHO)
        for proto in ("connect", "grpc", "grpc-web"):
            for http in ("h1", "h2c"):
                if proto == "grpc" and http == "h1":
                    continue
                rc, out, err = call(url, "-d", '{"text":"hi"}', "--protocol", proto, "--http", http)
                check(rc == 0 and out == b'{"text":"hi"}', "%s over %s: JSON echoed (rc %d, %r %s)"
                      % (proto, http, rc, out, err))
        # binary from a file, gzip, verbose
        with tempfile.NamedTemporaryFile(delete=False) as f:
            payload = bytes(range(256)) * 64
            f.write(payload)
            name = f.name
        rc, out, err = call(url, "--proto", "-d", "@" + name, "--gzip", "-v")
        os.unlink(name)
        check(rc == 0 and out == payload, "proto from @FILE with --gzip echoed byte for byte")
        check("< HTTP status 200" in err and "content-type: application/proto" in err,
              "-v prints the response status and headers on stderr")
        # a file larger than the first read buffer (64 KiB): read whole; past the cap: refused
        with tempfile.NamedTemporaryFile(delete=False) as f:
            big = bytes(range(251)) * 1000
            f.write(big)
            name = f.name
        rc, out, err = call(url, "--proto", "-d", "@" + name)
        check(rc == 0 and out == big, "a 251 kB @FILE echoed byte for byte (rc %d, %s)" % (rc, err))
        os.truncate(name, 64 * 1024 * 1024 + 1)
        rc, out, err = call(url, "--proto", "-d", "@" + name)
        os.unlink(name)
        check(rc == 2 and "larger than 64 MiB" in err, "@FILE of 64 MiB + 1: exit 2 (%r)" % err)
        rc, out, _ = call(url, "--proto", "-d", "@-", "--protocol", "grpc", stdin=b"\x0a\x01x")
        check(rc == 0 and out == b"\x0a\x01x", "proto from stdin over gRPC")
        rc, out, _ = call(url)
        check(rc == 0 and out == b"{}", "no -d sends {} (JSON)")
        rc, out, err = call(url, "--get", "-d", '{"text":"by get"}', "-v")
        check(rc == 0 and out == b'{"text":"by get"}' and "> GET " in err,
              "--get: Connect GET with the message in the URL (%r)" % err)
        # RPC errors: exit 1, 'code: message' on stderr
        rc, out, err = call(url, "-d", '{"text":')
        check(rc == 1 and out == b"" and "invalid_argument: invalid JSON message at byte 8" in err,
              "invalid JSON: exit 1, invalid_argument (%r)" % err)
        rc, _, err = call("http://127.0.0.1:%d/x.Y/Z" % srv.port, "--protocol", "grpc")
        check(rc == 1 and "unimplemented: unknown procedure /x.Y/Z" in err, "unknown procedure (%r)" % err)
        rc, _, err = call("http://127.0.0.1:%d/x.Y/Z" % hoptest.free_port())
        check(rc == 1 and "unavailable:" in err, "connection refused: unavailable (%r)" % err)
        rc, _, err = call("http://127.0.0.1:%d%s" % (slow.port, ECHO), "--timeout", "100ms")
        check(rc == 1 and "deadline_exceeded" in err, "--timeout 100ms vs --delay 500ms (%r)" % err)
        rc, out, _ = call("http://127.0.0.1:%d%s" % (slow.port, ECHO), "--timeout", "5s", "-d", "{}")
        check(rc == 0 and out == b"{}", "--delay honoured within the deadline")
        # usage errors: exit 2
        for args in (["nope"], [url, "--protocol", "soap"], [url, "--http", "h3"], [url, "--bogus"],
                     [url, "-H", "no-colon"], [url, "--timeout", "soon"], [],
                     [url, "-d", "@/nonexistent/file"]):
            rc, _, err = call(*args)
            check(rc == 2 and err.startswith("hopwire call: "), "usage error %s: exit 2 (%r)" % (args, err))
        rc, out, _ = call("--help")
        check(rc == 0 and b"usage: hopwire call URL" in out, "--help")
        # against connect-node: its errors (with details) and its JSON
        base = "http://127.0.0.1:%d/hopwire.test.v1.TestService/" % node.port
        rc, out, err = call(base + "Fail", "-d", '{"code":5,"message":"gone away"}', "-v")
        check(rc == 1 and "not_found: gone away" in err and "detail hopwire.test.v1.ErrorInfo" in err,
              "connect-node Fail: not_found with its detail (%r)" % err)
        for proto in ("connect", "grpc", "grpc-web"):
            rc, out, err = call(base + "Echo", "-d", '{"text":"n\\u00f6de"}', "--protocol", proto)
            check(rc == 0 and json.loads(out) == {"text": "n\u00f6de"},
                  "connect-node Echo over %s (%r %s)" % (proto, out, err))
        rc, _, err = call(base + "Slow", "-d", '{"delayMs":2000}', "--timeout", "200ms")
        check(rc == 1 and "deadline_exceeded" in err, "connect-node Slow past --timeout (%r)" % err)
    finally:
        node.stop()
        slow.stop()
        srv.stop()
    print("ok: all")


if __name__ == "__main__":
    main()
