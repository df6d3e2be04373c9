"""hopwire serve, HTTP/1.1 over raw sockets: smuggling shapes, limits, timeouts, pipelining,
connection cap. Each hostile case asserts the status and the close, then that a fresh,
well-behaved connection is still answered."""
# ctest: TIMEOUT=120
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
from hoptest import check, serve  # noqa: E402

ECHO = "/hopwire.bench.v1.BenchService/Echo"


def conn(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.settimeout(timeout)
    return s


def read_all(s, limit=1 << 22):
    """Reads until the peer closes (or the timeout); returns (data, closed)."""
    data = b""
    try:
        while len(data) < limit:
            b = s.recv(65536)
            if not b:
                return data, True
            data += b
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True
    return data, False


class Reader:
    """Buffered response reader over one socket (pipelined answers may share a recv)."""

    def __init__(self, s):
        self.s = s
        self.buf = b""

    def _more(self):
        b = self.s.recv(65536)
        if not b:
            raise EOFError("closed")
        self.buf += b

    def response(self):
        """One response with a content-length body: (status, headers, body)."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body


def read_response(s):
    st, hdrs, body = Reader(s).response()
    return st, hdrs, body, b""


def status_then_close(port, raw):
    s = conn(port)
    s.sendall(raw)
    data, closed = read_all(s)
    s.close()
    status = int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else None
    return status, closed


def healthy(port):
    s = conn(port)
    s.sendall(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    st, _, body, _ = read_response(s)
    s.close()
    return st == 200 and body == b"hello"


def main():
    srv = serve("--threads", "2", "--max-header-list", "4k", "--max-body", "1k",
                "--header-timeout", "1s", "--body-timeout", "1s", "--idle-timeout", "2s",
                "--max-conns", "8")
    port = srv.port
    try:
        check(healthy(port), "a plain request is answered")

        cases = [
            ("Content-Length with Transfer-Encoding -> 400 + close",
             b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("two Content-Length headers -> 400 + close",
             b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
            ("differing Content-Length headers -> 400 + close",
             b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
            ("Transfer-Encoding: chunked, identity -> 400 + close",
             b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
            ("bad chunk size -> 400 + close",
             b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400),
            ("overflowing chunk size -> 400 + close",
             b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"fffffffffffffffffffff\r\nab\r\n0\r\n\r\n", 400),
            ("garbage request line -> 400 + close", b"\x00\x01garbage\r\n\r\n", 400),
            ("oversize head -> 431 + close",
             b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n", 431),
            ("oversize declared body -> 413 + close",
             b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413),
            ("oversize chunked body -> 413 + close",
             b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             + b"400\r\n" + b"a" * 1024 + b"\r\n" + b"10\r\n" + b"b" * 16 + b"\r\n0\r\n\r\n", 413),
        ]
        for what, raw, want in cases:
            st, closed = status_then_close(port, raw)
            check(st == want and closed, "%s (got %s, closed=%s)" % (what, st, closed))
            check(healthy(port), "  ... and the server still answers a good connection")

        # Pipelining: three requests in one write, answered in order on one connection.
        s = conn(port)
        reqs = b"".join(
            b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n" + body
            for body in (b"r1", b"r2", b"r3"))
        s.sendall(reqs)
        rd = Reader(s)
        got = [rd.response()[2] for _ in range(3)]
        s.close()
        check(got == [b"r1", b"r2", b"r3"], "pipelined requests answered in order (%r)" % got)

        # Keep-alive: two requests on one connection.
        s = conn(port)
        for i in range(2):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            st, hdrs, body, _ = read_response(s)
            check(st == 200 and body == b"OK" and hdrs.get("connection") == "keep-alive",
                  "keep-alive request %d on one connection" % (i + 1))
        s.close()

        # Upgrade: h2c is answered as plain HTTP/1.1.
        s = conn(port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        st, _, body, _ = read_response(s)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        st2, _, _, _ = read_response(s)
        s.close()
        check(st == 200 and body == b"OK" and st2 == 200, "Upgrade: h2c answered as HTTP/1.1, connection reusable")

        # Expect: 100-continue gets an interim answer before the body is sent.
        s = conn(port)
        s.sendall(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        interim = s.recv(100)
        s.sendall(b"abc")
        st, _, body, _ = read_response(s)
        s.close()
        check(interim.startswith(b"HTTP/1.1 100") and st == 200 and body == b"abc", "Expect: 100-continue")

        # Slow client: one byte every 0.3 s; the 1 s header timeout ends it (408 or close).
        s = conn(port)
        t0 = time.time()
        closed = False
        data = b""
        for ch in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":
            try:
                s.sendall(bytes([ch]))
            except OSError:
                closed = True
                break
            s.settimeout(0.3)
            try:
                b = s.recv(4096)
                data += b
                if not b:
                    closed = True
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = True
                break
            if time.time() - t0 > 5:
                break
        s.close()
        took = time.time() - t0
        check(closed and took < 3.0 and (data == b"" or data.startswith(b"HTTP/1.1 408")),
              "slow client closed by the header timeout after %.1fs (%r)" % (took, data[:20]))
        check(healthy(port), "  ... and the server still answers a good connection")

        # Idle keep-alive connection closed after the idle timeout (2 s).
        s = conn(port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(s)
        t0 = time.time()
        s.settimeout(6)
        try:
            b = s.recv(10)
        except (socket.timeout, ConnectionResetError):
            b = None
        check(b == b"" and 1.5 < time.time() - t0 < 4.5, "idle connection closed after ~2 s")
        s.close()

        # Connection cap (8): extra connections are closed at accept; freed slots are reused.
        held = [conn(port) for _ in range(8)]
        for h in held:  # make sure each was accepted and counted
            h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            read_response(h)
        extra = conn(port)
        try:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data, closed = read_all(extra)
        except OSError:
            data, closed = b"", True
        extra.close()
        check(closed and data == b"", "connection past --max-conns closed without an answer")
        for h in held:
            h.close()
        time.sleep(0.2)
        check(healthy(port), "after the held connections closed, new ones are served")
    finally:
        rc = srv.stop()
    check(rc == 0, "server exits 0 after SIGTERM (rc=%s)" % rc)


if __name__ == "__main__":
    main()
