#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (one file per seed, named by the
SHA-1 of its bytes; rerunning adds nothing new). Two sources:

  captures   real traffic recorded by a loopback proxy in front of `hopwire serve` (--hopwire
             PATH): curl --http2-prior-knowledge, nghttp, `hopwire call` (h2c and HTTP/1.1)
             and python3-h2. Client->server bytes seed the server targets, server->client
             bytes the client target.
  hostile    the malformed and hostile inputs the integration tests already send
             (tests/integration/test_server_hostile_*.py, test_server_h2_conformance.py,
             tests/peers/h2_fault_peer.py scenarios), built with the same helpers.

Run: /usr/bin/python3 tests/fuzz/make_corpus.py --hopwire build/hopwire
"""
import argparse
import gzip
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2attack as A  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
PREFACE = A.PREFACE
ECHO = A.ECHO


def put(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def strip_preface(b):
    return b[len(PREFACE):] if b.startswith(PREFACE) else b


# ---------------------------------------------------------------- captures through a proxy

class Proxy:
    """Forwards 127.0.0.1:port -> upstream; records each connection's two directions."""

    def __init__(self, upstream_port):
        self.up = upstream_port
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.records = []
        self.lock = threading.Lock()
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.up))
            rec = [bytearray(), bytearray()]
            with self.lock:
                self.records.append(rec)
            for a, b, buf in ((c, u, rec[0]), (u, c, rec[1])):
                threading.Thread(target=self.pipe, args=(a, b, buf), daemon=True).start()

    @staticmethod
    def pipe(a, b, buf):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                buf += d
                b.sendall(d)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def take(self):
        time.sleep(0.3)
        with self.lock:
            r, self.records = self.records, []
        return [(bytes(a), bytes(b)) for a, b in r]


def captures(hopwire):
    srv = subprocess.Popen([hopwire, "serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE)
    line = srv.stdout.readline().decode()
    port = int(line.rsplit(":", 1)[1])
    px = Proxy(port)
    base = "http://127.0.0.1:%d" % px.port
    runs = []
    if shutil.which("curl"):
        runs += [["curl", "-s", "--http2-prior-knowledge", base + "/healthz"],
                 ["curl", "-s", "--http2-prior-knowledge", "-H", "content-type: application/json",
                  "-d", '{"text":"hi"}', base + ECHO],
                 ["curl", "-s", base + "/healthz"],
                 ["curl", "-s", "-H", "content-type: application/json", "-d", '{"text":"h1"}',
                  base + ECHO]]
    if shutil.which("nghttp"):
        runs += [["nghttp", "-n", base + "/healthz"],
                 ["nghttp", "-n", "-H", "content-type: application/proto", "-d", "/dev/null",
                  base + ECHO]]
    for proto in ("connect", "grpc", "grpc-web"):
        runs.append([hopwire, "call", base + ECHO, "-d", '{"text":"x"}', "--protocol", proto,
                     "--http", "h2c"])
    runs += [[hopwire, "call", base + ECHO, "-d", '{"text":"x"}', "--gzip", "--http", "h2c"],
             [hopwire, "call", base + ECHO, "-d", '{"text":"x"}', "--http", "h1"],
             [hopwire, "call", base + ECHO, "-d", '{"text":"x"}', "--protocol", "grpc-web",
              "--http", "h1"],
             [hopwire, "call", base + ECHO, "--get", "-d", '{"text":"g"}', "--http", "h1"]]
    out = []
    for argv in runs:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
        out += px.take()
    # python3-h2: several streams on one connection
    s = socket.create_connection(("127.0.0.1", px.port))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    for sid, (path, body) in zip((1, 3, 5), (("/healthz", b""), (ECHO, b"\x0a\x02hi"),
                                             ("/nope", b""))):
        conn.send_headers(sid, A.request_headers(px.port, "POST" if body else "GET", path,
                                                 [("content-type", "application/proto")]),
                          end_stream=not body)
        if body:
            conn.send_data(sid, body, end_stream=True)
    s.sendall(conn.data_to_send())
    time.sleep(0.3)
    s.close()
    out += px.take()
    srv.terminate()
    srv.wait()
    for c2s, s2c in out:
        if c2s.startswith(PREFACE):
            put("server_h2", strip_preface(c2s))
            if s2c:
                put("client_h2", s2c)
        else:
            put("h1_request", b"\x00" + c2s)
            put("h1_request", b"\x07" + c2s)
            if s2c:
                put("h1_response", b"\x00\x00" + s2c)
        put("server_h1", c2s)
    return len(out)


# ---------------------------------------------------------------- hostile inputs

def h2_hostile():
    F = A.frame
    blk = A.plain_block(A.request_headers(8080))
    post = A.plain_block(A.request_headers(8080, "POST", ECHO,
                                           [("content-type", "application/proto")]))
    settings = A.settings_frame([(A.S_INITIAL_WINDOW_SIZE, 1 << 20)])
    seeds = [
        F(A.PING, 0, 0, b"\0" * 7), F(A.RST_STREAM, 0, 1, b""), F(A.SETTINGS, 0, 0, b"\0" * 5),
        A.data_frame(1, b"x"), F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 2, blk),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 5, blk) + F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 3, blk),
        F(A.CONTINUATION, A.END_HEADERS, 1, b"\x82"),
        F(A.HEADERS, A.END_STREAM, 1, blk) + F(A.PING, 0, 0, b"\0" * 8) + F(A.CONTINUATION, A.END_HEADERS, 1, b""),
        F(A.HEADERS, A.END_STREAM, 1, blk) + b"".join(F(A.CONTINUATION, 0, 1, b"\x40\x01a\x01b")
                                                      for _ in range(10)),
        F(A.HEADERS, A.END_HEADERS, 1, post) + F(A.DATA, A.PADDED, 1, b"\x10abc"),
        F(A.HEADERS, A.END_HEADERS, 1, post) + A.data_frame(1, b"d" * 16385),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM | A.PRIORITY_FLAG, 1, struct.pack(">IB", 1, 15) + blk),
        A.window_update_frame(0, 0), A.window_update_frame(0, 0x7FFFFFFF),
        A.settings_frame([(A.S_INITIAL_WINDOW_SIZE, 1 << 31)]), A.settings_frame([(0xFF, 1)] * 33),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, b"\x80"),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, A.hpack_int(8192, 5, 0x20) + blk),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, blk + A.hpack_int(70, 7, 0x80)),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, A.literal_inc_index(b"x-bomb", b"A" * 4000)
          + b"\xbe" * 4000),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, A.plain_block(
            A.request_headers(8080) + [("", "")] * 50)),
        F(A.HEADERS, A.END_HEADERS, 1, A.plain_block(A.request_headers(
            8080, "POST", ECHO, [("content-length", "5")]))) + A.data_frame(1, b"abc", True),
        b"".join(F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 2 * i + 1, blk) +
                 A.rst_frame(2 * i + 1, A.CANCEL) for i in range(50)),
        b"".join(A.data_frame(1, b"") for _ in range(20)),
        b"".join(A.ping_frame(struct.pack(">Q", i)) for i in range(120)),
        F(0xFA, 0xFF, 0, b"junk"), A.goaway_frame(0, A.NO_ERROR),
        # the conformance cases (test_server_h2_conformance.py)
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, blk) + A.data_frame(1, b"x"),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, blk) + A.rst_frame(1, A.CANCEL) + A.data_frame(1, b"x"),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, blk) + F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, blk),
        F(A.PRIORITY, 0, 0, struct.pack(">IB", 1, 15)), F(A.PRIORITY, 0, 1, struct.pack(">IB", 1, 15)),
        F(A.PRIORITY, 0, 3, struct.pack(">IB", 3, 15)) + F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 3, blk),
        F(A.HEADERS, A.END_HEADERS, 1, A.plain_block(A.request_headers(8080, "POST", "/later")))
        + A.data_frame(1, b"body", True),
    ]
    for s in seeds:
        put("server_h2", settings + s)
        put("server_h1", PREFACE + settings + s)
    put("server_h1", b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")


def h1_hostile():
    reqs = [
        b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: a\r\nContent-Type: application/proto\r\n"
        b"Content-Length: 4\r\n\r\n\x0a\x02hi",
        b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nx-t: 1\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /readyz HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /later HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n",
    ]
    for r in reqs:
        put("h1_request", b"\x00" + r)
        put("h1_request", b"\x01" + r)
        put("server_h1", r)
    resps = [
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nx: y\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nread until close",
        b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\naHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nx: " + b"v" * 9000 + b"\r\n\r\n",
        b"<!DOCTYPE HTML><html><body>Error 505</body></html>",
        b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n",
    ]
    for r in resps:
        put("h1_response", b"\x00\x00" + r)
        put("h1_response", b"\x03\x01" + r)


def client_h2_hostile():
    """Server answers for the fuzz_client_h2 harness (stream 1: POST Echo, 3: GET /healthz)."""
    F = A.frame
    import hpack
    enc = hpack.Encoder()
    settings = A.settings_frame([(A.S_MAX_CONCURRENT_STREAMS, 100)]) + A.settings_frame(ack=True)
    ok = enc.encode([(":status", "200"), ("content-type", "application/proto")])
    tr = enc.encode([("grpc-status", "0")])

    def answer(sid, body=b"\x0a\x01x"):
        return (F(A.HEADERS, A.END_HEADERS, sid, ok) + A.data_frame(sid, body)
                + F(A.HEADERS, A.END_HEADERS | A.END_STREAM, sid, tr))
    seeds = [
        answer(1) + answer(3),
        A.goaway_frame(1, A.NO_ERROR) + answer(1),
        A.goaway_frame(0, A.ENHANCE_YOUR_CALM, b"too_many_pings"),
        A.rst_frame(1, A.REFUSED_STREAM) + A.rst_frame(3, A.INTERNAL_ERROR),
        F(A.HEADERS, 0, 1, ok) + b"".join(F(A.CONTINUATION, 0, 1, b"\x40\x01a\x01b")
                                          for _ in range(20)),
        F(A.HEADERS, A.END_HEADERS, 1, enc.encode([(":status", "200"), ("x-big", "b" * 9000)])),
        answer(1) + A.data_frame(1, b"late"),                                   # data-after-end
        answer(1) + F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, tr),          # headers-after-end
        answer(1) + F(A.PRIORITY, 0, 0, struct.pack(">IB", 1, 15)),             # priority-zero
        F(A.PRIORITY, 0, 1, struct.pack(">IB", 1, 15)) + answer(3),             # priority-self
        F(A.PUSH_PROMISE, A.END_HEADERS, 1, b"\0\0\0\x02" + ok),
        b"".join(A.ping_frame(struct.pack(">Q", i)) for i in range(50)),
        F(A.HEADERS, A.END_HEADERS, 1, enc.encode([(":status", "100")])) + answer(1),
        F(A.HEADERS, A.END_HEADERS | A.END_STREAM, 1, enc.encode([(":status", "20x")])),
        A.data_frame(1, b"x" * 70000)[:16393],
        A.window_update_frame(0, 0x7FFFFFFF) + A.window_update_frame(1, 0x7FFFFFFF),
    ]
    for s in seeds:
        put("client_h2", settings + s)
    put("client_h2", b"\x00\x00\x04\x07\x00\x00\x00\x00\x01garbage-not-a-frame")
    put("client_h2", b"HTTP/1.1 400 Bad Request\r\n\r\n")
    put("client_h2", b"<!DOCTYPE HTML>\n<html><head><title>Error response</title></head></html>")


def rpc_seeds():
    def env(flags, msg):
        return bytes([flags]) + struct.pack(">I", len(msg)) + msg
    msg = b"\x0a\x05hello"
    z = gzip.compress(msg)
    trailer = b"grpc-status: 3\r\ngrpc-message: bad%20thing\r\ngrpc-status-details-bin: CAMSA2JhZA\r\n"
    status_pb = b"\x08\x03\x12\x03bad\x1a\x10\x0a\x06type/x\x12\x06\x01\x02\x03\x04\x05\x06"
    seeds = [
        b"\x00" + env(0, msg), b"\x01" + env(1, z), b"\x02" + env(0, msg) + env(0x80, trailer),
        b"\x03" + env(1, z) + env(0x81, gzip.compress(trailer)), b"\x00" + env(0, msg)[:3],
        b"\x00" + b"\x00\xff\xff\xff\xff", b"\x00" + env(0, msg) + env(0, msg), b"\x04" + env(1, z),
        b"\x00" + env(0x42, msg), b"\x01" + env(1, gzip.compress(b"\0" * 200000)),
        b"\x00" + b'{"code":"invalid_argument","message":"x","details":[{"type":"t","value":"AAEC"}]}',
        b"\x00" + b'{"code":"nope"}', b"\x00" + b'{"message":"\\u00e9\\ud83d\\ude00","code":"internal"}',
        b"\x00" + status_pb, b"\x00" + trailer, b"\x00" + b"grpc-status 0\r\n",
    ]
    for s in seeds:
        put("rpc_envelope", s)
    for raw in (b"hello", b"", b"\0" * 100000):
        put("gzip", b"\x10\x00" + gzip.compress(raw))
    put("gzip", b"\x00\x10" + gzip.compress(b"\0" * 100000))
    put("gzip", b"\xff\xff" + gzip.compress(b"abc")[:-3])
    put("gzip", b"\xff\xff" + gzip.compress(b"abc") + b"trailing")
    put("gzip", b"\xff\xff" + gzip.compress(b"a") + gzip.compress(b"b"))
    for s in (b"http://127.0.0.1:8080/hopwire.bench.v1.BenchService/Echo?x=1", b"http://[::1]:80/",
              b"http://localhost/", b"https://a/", b"http://a:99999/", b"http://a:0/", b"http://[::1/",
              b"http://" + b"h" * 300 + b"/", b"100", b"1S", b"99999999H", b"5m", b"0n",
              b"%41%zz%", b"a+b%20c", b"AAEC_-", b"AAEC==", b"gzip", b"identity, gzip;q=0",
              b"deflate, gzip;q=0.5"):
        put("url", s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hopwire", default=os.path.join(HERE, "..", "..", "build", "hopwire"))
    ap.add_argument("--no-captures", action="store_true")
    a = ap.parse_args()
    h2_hostile()
    h1_hostile()
    client_h2_hostile()
    rpc_seeds()
    if not a.no_captures:
        print("captured %d connections" % captures(a.hopwire))
    for t in sorted(os.listdir(CORPUS)):
        print("%-14s %d seeds" % (t, len(os.listdir(os.path.join(CORPUS, t)))))


if __name__ == "__main__":
    main()
