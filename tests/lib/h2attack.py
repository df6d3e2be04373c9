"""Frame-level attack harness for hostile-peer tests (Debian python3-h2 4.1 stack: hpack, h2).

Pieces:
  Conn      a client socket that records how (FIN/RST) and when it ended; wait_hangup()
            sees a close without reading (attackers that never read).
  RawH2     raw socket speaking HTTP/2 by hand: frames built with struct (so invalid ones are
            possible), header blocks from hpack without dynamic-table indexing (so the server's
            HPACK state never depends on ours), replies read back with a deadline and decoded
            with one hpack.Decoder per connection (the server's table stays in sync).
  RawH1     raw socket for HTTP/1.1: send bytes, read responses, see the close.
  h2_call / h1_call / healthy
            well-behaved requests on a fresh connection (python3-h2 H2Connection for h2).
  Prober    a thread that keeps making well-behaved calls while an attack runs.
  Server    `hopwire serve --listen 127.0.0.1:0 FLAGS` for one case (killed if the case fails).
  run_cases one script = several named cases; prints ok/FAIL lines. A script's KNOWN_FAIL
            lists defences the server lacks today (printed `xfail:`, not counted unless
            HOP_HOSTILE_STRICT=1); `xpass:` means one can be enabled.
  H2ATTACK_NO_H1=1 skips the HTTP/1.1 probe in healthy() (dev runs against nghttpd).

Loopback pitfalls handled here: a reader parses what it has buffered before judging; attack
loops stop sending at the first GOAWAY or close (writing after the server's close makes its
kernel answer with a TCP RST, and the client may lose the GOAWAY still in its receive buffer);
judgements drain the socket first.
"""
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback

import h2.config
import h2.connection
import h2.events
import hpack
from hpack import NeverIndexedHeaderTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hoptest  # noqa: E402

SANITIZE = hoptest.SANITIZE

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ECHO = "/hopwire.bench.v1.BenchService/Echo"

# Frame types.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
TYPE_NAMES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS",
              5: "PUSH_PROMISE", 6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}
# Flags.
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
# Error codes.
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, \
    FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, \
    ENHANCE_YOUR_CALM = range(12)
CODE_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
              4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR",
              7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR",
              11: "ENHANCE_YOUR_CALM", 12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}
# Settings ids.
S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE, \
    S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE = range(1, 7)
S_NO_RFC7540_PRIORITIES = 9


def code_name(c):
    return CODE_NAMES.get(c, str(c))


class CaseFailed(Exception):
    pass


def expect(cond, what):
    """Raises CaseFailed(what) when |cond| is false (cases collect one failure each)."""
    if not cond:
        raise CaseFailed(what)


# ---------------------------------------------------------------- frame building

def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags,
                                                             sid & 0x7FFFFFFF) + payload


def settings_frame(entries=(), ack=False):
    """|entries|: iterable of (id, value); ids may repeat (h2 itself refuses to emit that)."""
    body = b"".join(struct.pack(">HI", i, v) for i, v in entries)
    return frame(SETTINGS, ACK if ack else 0, 0, body)


def ping_frame(data=b"\0" * 8, ack=False):
    return frame(PING, ACK if ack else 0, 0, data)


def rst_frame(sid, code=CANCEL):
    return frame(RST_STREAM, 0, sid, struct.pack(">I", code))


def window_update_frame(sid, inc):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", inc))


def data_frame(sid, data=b"", end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, sid, data)


def goaway_frame(last_sid=0, code=NO_ERROR, debug=b""):
    return frame(GOAWAY, 0, 0, struct.pack(">II", last_sid, code) + debug)


def plain_block(headers):
    """HPACK block with no dynamic-table insertion (literal never-indexed, static names):
    stateless, so any number of these can be mixed with raw blocks on one connection."""
    return hpack.Encoder().encode([NeverIndexedHeaderTuple(n, v) for n, v in headers])


def literal_no_index(name, value):
    """Literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def literal_inc_index(name, value):
    """Literal header field with incremental indexing, new name, no Huffman (RFC 7541 6.2.1):
    the server inserts it at dynamic index 62."""
    return b"\x40" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def hpack_int(v, prefix_bits, first=0):
    """RFC 7541 5.1 integer with a |prefix_bits| prefix; |first| holds the high bits."""
    limit = (1 << prefix_bits) - 1
    if v < limit:
        return bytes([first | v])
    out = [first | limit]
    v -= limit
    while v >= 128:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def request_headers(port, method="GET", path="/healthz", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", "127.0.0.1:%d" % port),
            (":path", path)] + list(extra)


# ---------------------------------------------------------------- raw HTTP/2 connection

class Frame:
    __slots__ = ("type", "flags", "sid", "payload", "headers", "t")

    def __init__(self, ftype, flags, sid, payload, t):
        self.type, self.flags, self.sid, self.payload, self.t = ftype, flags, sid, payload, t
        self.headers = None  # decoded list for HEADERS/CONTINUATION that ends a block

    @property
    def code(self):
        """Error code of RST_STREAM / GOAWAY."""
        if self.type == RST_STREAM:
            return struct.unpack(">I", self.payload[:4])[0]
        if self.type == GOAWAY:
            return struct.unpack(">I", self.payload[4:8])[0]
        return None

    @property
    def last_sid(self):
        return struct.unpack(">I", self.payload[:4])[0] & 0x7FFFFFFF

    @property
    def debug(self):
        return bytes(self.payload[8:]) if self.type == GOAWAY else b""

    def settings(self):
        return {struct.unpack(">H", self.payload[i:i + 2])[0]:
                struct.unpack(">I", self.payload[i + 2:i + 6])[0]
                for i in range(0, len(self.payload) - 5, 6)}

    def status(self):
        for n, v in self.headers or ():
            if n == ":status":
                return int(v)
        return None

    def __repr__(self):
        extra = ""
        if self.type in (RST_STREAM, GOAWAY):
            extra = " %s" % code_name(self.code)
            if self.type == GOAWAY:
                extra += " last=%d %r" % (self.last_sid, self.debug[:80])
        if self.headers is not None:
            extra = " :status=%s" % self.status()
        return "<%s sid=%d flags=0x%x len=%d%s>" % (TYPE_NAMES.get(self.type, self.type),
                                                     self.sid, self.flags, len(self.payload),
                                                     extra)


class Conn:
    """A client socket to 127.0.0.1:|port| that records how and when it ended (FIN = eof,
    RST/EPIPE = reset). Not thread-safe."""

    def __init__(self, port, timeout=5.0, rcvbuf=None, sndbuf=None):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.t0 = time.time()
        self.buf = bytearray()
        self.eof = False          # orderly close (FIN) seen
        self.reset = False        # ECONNRESET/EPIPE seen
        self.closed_at = None
        self.send_error = None
        self.bytes_sent = 0

    @property
    def closed(self):
        return self.eof or self.reset

    def _mark_closed(self, reset):
        if reset:
            self.reset = True
        else:
            self.eof = True
        if self.closed_at is None:
            self.closed_at = time.time()

    def send(self, data):
        """Writes all of |data|; False (and no exception) once the peer has gone or the
        socket timeout passed with the peer not reading."""
        if self.closed:
            return False
        try:
            self.sock.sendall(data)
            self.bytes_sent += len(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
            self.send_error = type(e).__name__
            self._mark_closed(reset=True)
            return False
        except socket.timeout:
            self.send_error = "send timeout"
            return False

    def _fill(self, timeout):
        """One recv into self.buf if data arrives within |timeout| s; True if it did."""
        if self.closed:
            return False
        try:
            r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        except ValueError:
            return False
        if not r:
            return False
        try:
            chunk = self.sock.recv(1 << 18)
        except (ConnectionResetError, ConnectionAbortedError):
            self._mark_closed(reset=True)
            return False
        except socket.timeout:
            return False
        if not chunk:
            self._mark_closed(reset=False)
            return False
        self.buf += chunk
        return True

    def wait_hangup(self, timeout):
        """Waits for the peer's FIN or RST WITHOUT reading (a client that stops reading);
        True once seen (the connection then counts as closed)."""
        if self.closed:
            return True
        p = select.poll()
        p.register(self.sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        deadline = time.time() + timeout
        while time.time() < deadline:
            ev = p.poll(max(1, int((deadline - time.time()) * 1000)))
            for _, mask in ev:
                if mask & (select.POLLHUP | select.POLLERR):
                    self._mark_closed(reset=True)
                    return True
                if mask & select.POLLRDHUP:
                    self._mark_closed(reset=False)
                    return True
        return False

    def wait_closed(self, timeout):
        """Reads (and keeps) whatever comes until the close; seconds since connect, or None."""
        deadline = time.time() + timeout
        while not self.closed and time.time() < deadline:
            self._fill(min(0.05, max(0.0, deadline - time.time())))
            self._parse()
        return (self.closed_at - self.t0) if self.closed else None

    def _parse(self):
        pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class RawH2(Conn):
    """One attack connection speaking HTTP/2 frame by frame."""

    def __init__(self, port, rcvbuf=None, sndbuf=None, timeout=5.0):
        super().__init__(port, timeout, rcvbuf, sndbuf)
        self.frames = []
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self._block = None        # (first frame, bytearray) while a header block is open
        self.server_settings = None
        self.parse_error = None

    def goaway(self):
        for f in self.frames:
            if f.type == GOAWAY:
                return f
        return None

    def rsts(self, sid=None):
        return [f for f in self.frames if f.type == RST_STREAM and (sid is None or f.sid == sid)]

    def of_type(self, ftype, sid=None):
        return [f for f in self.frames if f.type == ftype and (sid is None or f.sid == sid)]

    def responses(self, sid=None):
        """Decoded response header blocks (first block per stream)."""
        return [f for f in self.frames if f.headers is not None and (sid is None or f.sid == sid)]

    def body(self, sid):
        return b"".join(bytes(f.payload) for f in self.frames if f.type == DATA and f.sid == sid)

    def stream_ended(self, sid):
        return any(f.sid == sid and f.type in (DATA, HEADERS) and f.flags & END_STREAM
                   for f in self.frames)

    def summary(self, limit=12):
        """Short description of what came back (for failure messages)."""
        counts = {}
        for f in self.frames:
            counts[TYPE_NAMES.get(f.type, f.type)] = counts.get(TYPE_NAMES.get(f.type, f.type),
                                                                0) + 1
        interesting = [f for f in self.frames if f.type in (GOAWAY, RST_STREAM) or f.headers]
        s = "frames=%s" % counts
        if interesting:
            s += " first=%s" % interesting[:limit]
        s += " closed=%s" % ("eof" if self.eof else "reset" if self.reset else "no")
        if self.closed_at:
            s += " after %.2fs" % (self.closed_at - self.t0)
        if self.send_error:
            s += " send_error=%s" % self.send_error
        if self.parse_error:
            s += " parse_error=%s" % self.parse_error
        return s

    # -- sending
    def handshake(self, settings=((S_INITIAL_WINDOW_SIZE, 1 << 24),), window=1 << 24,
                  ack=True, timeout=3.0):
        """Preface + SETTINGS (+ a large connection window), waits for the server's SETTINGS
        and ACKs it. Returns the server's settings dict (None if none arrived)."""
        out = PREFACE + settings_frame(settings)
        if window and window > 65535:
            out += window_update_frame(0, window - 65535)
        self.send(out)
        f = self.wait(lambda f: f.type == SETTINGS and not f.flags & ACK, timeout)
        if f is not None:
            self.server_settings = f.settings()
            if ack:
                self.send(settings_frame(ack=True))
        return self.server_settings

    def send_headers(self, sid, headers, end_stream=True, end_headers=True, block=None):
        blk = block if block is not None else plain_block(headers)
        flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
        return self.send(frame(HEADERS, flags, sid, blk))

    def send_block(self, sid, block, end_stream=True, max_frame=16384):
        """A header block of any size as HEADERS + CONTINUATION frames of <= |max_frame|."""
        parts = [block[i:i + max_frame] for i in range(0, len(block), max_frame)] or [b""]
        out = []
        for i, p in enumerate(parts):
            flags = END_HEADERS if i == len(parts) - 1 else 0
            if i == 0:
                out.append(frame(HEADERS, flags | (END_STREAM if end_stream else 0), sid, p))
            else:
                out.append(frame(CONTINUATION, flags, sid, p))
        return self.send(b"".join(out))

    def headers_bytes(self, sid, headers, end_stream=True):
        return frame(HEADERS, (END_STREAM if end_stream else 0) | END_HEADERS, sid,
                     plain_block(headers))

    # -- receiving
    def pump(self, timeout=0.0):
        """Reads whatever arrives within |timeout| s (at least one poll), parses complete
        frames. Returns the number of new frames."""
        n0 = len(self.frames)
        deadline = time.time() + timeout
        while self._fill(deadline - time.time()):
            self._parse()
            if time.time() >= deadline:
                break
        self._parse()
        return len(self.frames) - n0

    def _parse(self):
        buf = self.buf
        off = 0
        now = time.time()
        while len(buf) - off >= 9:
            ln = (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2]
            if len(buf) - off < 9 + ln:
                break
            ftype, flags = buf[off + 3], buf[off + 4]
            sid = struct.unpack(">I", buf[off + 5:off + 9])[0] & 0x7FFFFFFF
            payload = bytes(buf[off + 9:off + 9 + ln])
            off += 9 + ln
            f = Frame(ftype, flags, sid, payload, now)
            self._headers(f)
            self.frames.append(f)
        if off:
            del buf[:off]

    def _headers(self, f):
        """Feeds HEADERS/PUSH_PROMISE/CONTINUATION to the decoder in order."""
        if f.type == HEADERS:
            p = f.payload
            pad = 0
            if f.flags & PADDED:
                pad = p[0]
                p = p[1:]
            if f.flags & PRIORITY_FLAG:
                p = p[5:]
            frag = p[:len(p) - pad]
            self._block = (f, bytearray(frag))
        elif f.type == CONTINUATION and self._block is not None:
            self._block[1].extend(f.payload)
        else:
            return
        if f.flags & END_HEADERS and self._block is not None:
            first, blk = self._block
            self._block = None
            try:
                hdrs = self.decoder.decode(bytes(blk), raw=True)
                f.headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in hdrs]
                if f is not first:
                    first.headers = f.headers
            except Exception as e:  # a decoder error is a finding, not a harness crash
                self.parse_error = "hpack: %r" % e
                f.headers = []

    def wait(self, pred, timeout):
        """First frame (old or new) matching |pred|, reading up to |timeout| s; None if the
        deadline passes or the connection closes first."""
        deadline = time.time() + timeout
        i = 0
        while True:
            while i < len(self.frames):
                if pred(self.frames[i]):
                    return self.frames[i]
                i += 1
            left = deadline - time.time()
            if left <= 0 or self.closed:
                return None
            self.pump(min(left, 0.05))

    def wait_goaway(self, timeout):
        return self.wait(lambda f: f.type == GOAWAY, timeout)

    def flood(self, make_batch, per_batch, max_units, seconds, pause=0.005):
        """Attack loop: sends make_batch(k) (k = 0, 1, ...; |per_batch| units each) until
        |max_units| or |seconds|, reading |pause| s after each write; stops at the first
        GOAWAY or close. Returns (units sent, seconds)."""
        sent, t0, k = 0, time.time(), 0
        while sent < max_units and time.time() - t0 < seconds:
            if not self.send(make_batch(k)):
                break
            sent += per_batch
            k += 1
            self.pump(pause)
            if self.goaway() is not None or self.closed:
                break
        return sent, time.time() - t0

    def expect_goaway_close(self, what, codes, timeout=3.0):
        """Drains; asserts a GOAWAY with a code in |codes| and the TCP close <= 1 s after it.
        Returns the GOAWAY frame."""
        if isinstance(codes, int):
            codes = (codes,)
        g = self.wait_goaway(timeout)
        self.wait_closed(timeout)
        expect(g is not None and g.code in codes, "%s: GOAWAY(%s), got %s" %
               (what, "|".join(code_name(x) for x in codes), self.summary()))
        expect(self.closed and self.closed_at - g.t <= 1.0,
               "%s: TCP close <= 1 s after the GOAWAY (%s)" % (what, self.summary()))
        return g

    def stream_result(self, sid, timeout):
        """Waits for the stream's end: ('response', status, body) when it ended normally,
        ('rst', code) on RST_STREAM, ('goaway', code), ('closed',) or ('timeout',)."""
        deadline = time.time() + timeout
        while True:
            for f in self.frames:
                if f.sid == sid and f.type == RST_STREAM:
                    return ("rst", f.code)
            if self.stream_ended(sid):
                hdr = self.responses(sid)
                return ("response", hdr[0].status() if hdr else None, self.body(sid))
            g = self.goaway()
            if g is not None and g.last_sid < sid:
                return ("goaway", g.code)
            if self.closed:
                return ("goaway", g.code) if g is not None else ("closed",)
            left = deadline - time.time()
            if left <= 0:
                return ("timeout",)
            self.pump(min(left, 0.05))


# ---------------------------------------------------------------- raw HTTP/1.1 connection

class RawH1(Conn):
    """A raw HTTP/1.1 connection: send bytes, read responses, see the close."""

    def read_response(self, timeout=5.0):
        """Next response as (status, headers dict lower-case, body); None on close/timeout."""
        deadline = time.time() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline - time.time()) and (self.closed or
                                                             time.time() >= deadline):
                return None
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            status = -1
        hdrs = {}
        for ln in lines[1:]:
            n, _, v = ln.partition(":")
            hdrs.setdefault(n.strip().lower(), v.strip())
        self.buf = bytearray(rest)
        if "content-length" in hdrs:
            need = int(hdrs["content-length"])
            while len(self.buf) < need:
                if not self._fill(deadline - time.time()) and (self.closed or
                                                                 time.time() >= deadline):
                    break
            body = bytes(self.buf[:need])
            del self.buf[:need]
        elif "chunked" in hdrs.get("transfer-encoding", "").lower():
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    if not self._fill(deadline - time.time()) and (
                            self.closed or time.time() >= deadline):
                        return (status, hdrs, body)
                line, _, rest = bytes(self.buf).partition(b"\r\n")
                size = int(line.split(b";")[0], 16)
                while len(rest) < size + 2:
                    if not self._fill(deadline - time.time()) and (
                            self.closed or time.time() >= deadline):
                        return (status, hdrs, body)
                    line, _, rest = bytes(self.buf).partition(b"\r\n")
                body += rest[:size]
                self.buf = bytearray(rest[size + 2:])
                if size == 0:
                    break
        else:
            body = b""
        return (status, hdrs, body)


def h1_get(path="/healthz", host="127.0.0.1"):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode()


def h1_post(path, body, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/proto\r\n"
            "Content-Length: %d\r\n%s\r\n" % (path, len(body), extra)).encode() + body


def h1_call(port, raw, timeout=5.0):
    """One request on a fresh connection: (status, headers, body) or None."""
    c = RawH1(port, timeout)
    try:
        c.send(raw)
        return c.read_response(timeout)
    finally:
        c.close()


# ---------------------------------------------------------------- well-behaved h2 client

def h2_call(port, method="GET", path="/healthz", body=b"", headers=(), timeout=5.0,
            conn_out=None):
    """One request on a fresh connection with python3-h2. Returns a dict:
    status, headers, body, reset (code or None), goaway (code or None), error (str or None)."""
    res = {"status": None, "headers": [], "body": b"", "reset": None, "goaway": None,
           "error": None}
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout)
    except OSError as e:
        res["error"] = "connect: %s" % e
        return res
    try:
        cfg = h2.config.H2Configuration(client_side=True, header_encoding=None)
        conn = h2.connection.H2Connection(cfg)
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        sid = conn.get_next_available_stream_id()
        hdrs = request_headers(port, method, path, list(headers))
        if body:
            hdrs.append(("content-length", str(len(body))))
        conn.send_headers(sid, hdrs, end_stream=not body)
        sock.sendall(conn.data_to_send())
        pending = memoryview(body)
        body_parts = []
        done = False
        deadline = time.time() + timeout
        while not done:
            if pending and res["reset"] is None:
                n = min(len(pending), conn.local_flow_control_window(sid),
                        conn.max_outbound_frame_size)
                if n > 0:
                    conn.send_data(sid, bytes(pending[:n]), end_stream=(n == len(pending)))
                    pending = pending[n:]
                    sock.sendall(conn.data_to_send())
                    continue
            left = deadline - time.time()
            if left <= 0:
                res["error"] = "timeout"
                break
            r, _, _ = select.select([sock], [], [], min(left, 0.2))
            if not r:
                continue
            data = sock.recv(1 << 16)
            if not data:
                res["error"] = res["error"] or "closed"
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    res["headers"] = ev.headers
                    for n, v in ev.headers:
                        if n == b":status":
                            res["status"] = int(v)
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    body_parts.append(ev.data)
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    done = True
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    res["reset"] = int(ev.error_code)
                    done = True
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    res["goaway"] = int(ev.error_code)
                    done = True
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        res["body"] = b"".join(body_parts)
        if conn_out is not None:
            conn_out.append((sock, conn))
            sock = None
    except (OSError, h2.exceptions.ProtocolError) as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        if sock is not None:
            sock.close()
    return res


def healthy(port, timeout=5.0):
    """A well-behaved client on fresh connections: h2 GET /healthz, h2 Echo, HTTP/1.1
    GET /healthz. Returns None when all answered correctly, else a description."""
    r = h2_call(port, timeout=timeout)
    if r["status"] != 200 or r["body"] != b"OK":
        return "h2 /healthz: %r" % {k: r[k] for k in ("status", "body", "reset", "goaway",
                                                       "error")}
    payload = b"hostile-probe-" + os.urandom(8).hex().encode()
    r = h2_call(port, "POST", ECHO, payload, [("content-type", "application/proto")],
                timeout=timeout)
    if r["status"] != 200 or r["body"] != payload:
        return "h2 Echo: %r" % {k: r[k] for k in ("status", "body", "reset", "goaway", "error")}
    if os.environ.get("H2ATTACK_NO_H1"):  # a server without HTTP/1.1 (nghttpd, dev runs)
        return None
    try:
        r1 = h1_call(port, h1_get(), timeout)
    except OSError as e:
        return "h1 /healthz: %s" % e
    if not r1 or r1[0] != 200 or r1[2] != b"OK":
        return "h1 /healthz: %r" % (r1,)
    return None


class Prober(threading.Thread):
    """Keeps a well-behaved client busy during an attack: healthy() every |interval| s."""

    def __init__(self, port, interval=0.2, timeout=5.0):
        super().__init__(daemon=True)
        self.port, self.interval, self.timeout = port, interval, timeout
        self.stop_ev = threading.Event()
        self.results = []  # (ok, detail, seconds)

    def run(self):
        while not self.stop_ev.is_set():
            t = time.time()
            try:
                err = healthy(self.port, self.timeout)
            except Exception as e:  # a probe failure is a finding
                err = "probe exception %r" % e
            self.results.append((err is None, err, time.time() - t))
            self.stop_ev.wait(self.interval)

    def finish(self):
        """Stops; raises CaseFailed unless >= 1 probe ran and every probe succeeded."""
        self.stop_ev.set()
        self.join(self.timeout * 3 + 5)
        bad = [r for r in self.results if not r[0]]
        expect(self.results, "well-behaved probe ran during the attack")
        expect(not bad, "well-behaved connection during the attack: %d/%d probes failed, "
               "first: %s" % (len(bad), len(self.results), bad[0][1] if bad else ""))
        return len(self.results), max(r[2] for r in self.results)


# ---------------------------------------------------------------- server process helpers

def rss_kb(pid, field="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith(field + ":"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


class Server:
    """`hopwire serve --listen 127.0.0.1:0 FLAGS` for one case (hoptest.Proc underneath)."""

    def __init__(self, *flags):
        self.flags = flags
        self.proc = hoptest.serve(*flags)
        self.port = self.proc.port
        self.pid = self.proc.p.pid

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # Only reached alive when a case failed early: no graceful drain to wait for.
        if self.alive():
            self.proc.stop(sig=signal.SIGKILL)
        return False

    def alive(self):
        return self.proc.p.poll() is None

    def stop(self):
        """SIGTERM (SIGKILL after 10 s); returns the exit code."""
        return self.proc.stop()


def finish_server(srv, check_health=True):
    """Common tail of a case: server alive, healthy on a fresh connection, clean exit."""
    expect(srv.alive(), "server still running (exit code %r)" % srv.proc.p.poll())
    if check_health:
        err = healthy(srv.port)
        expect(err is None, "well-behaved connection after the attack: %s" % err)
    rc = srv.stop()
    expect(rc == 0, "server exits 0 on SIGTERM (no sanitizer report), got %r" % rc)


# ---------------------------------------------------------------- case runner

def run_cases(cases, known_fail=None, argv=None):
    """Runs |cases| (list of (name, fn)); fn() raises CaseFailed/AssertionError on failure.
    |known_fail|: {name: "observed vs expected"} for server defences not there yet: their
    failure prints `xfail:` and does not fail the script (HOP_HOSTILE_STRICT=1 makes them
    count); a known-fail case that passes prints `xpass:`. argv: case names to run only."""
    known_fail = known_fail or {}
    strict = os.environ.get("HOP_HOSTILE_STRICT", "") not in ("", "0")
    only = set(argv or sys.argv[1:])
    failed = []
    t_all = time.time()
    for name, fn in cases:
        if only and name not in only:
            continue
        t = time.time()
        try:
            note = fn()
            err = None
        except (CaseFailed, AssertionError) as e:
            err = str(e)
        except Exception:  # harness or connection errors count as failures too
            err = "exception: " + traceback.format_exc().strip().replace("\n", " | ")
        dt = time.time() - t
        if err is None:
            tag = "xpass" if name in known_fail else "ok"
            print("%s: %s (%.2fs)%s" % (tag, name, dt, (" " + note) if note else ""), flush=True)
        elif name in known_fail and not strict:
            print("xfail: %s (%.2fs): %s [known: %s]" % (name, dt, err, known_fail[name]),
                  flush=True)
        else:
            print("FAIL: %s (%.2fs): %s" % (name, dt, err), flush=True)
            failed.append(name)
    print("%s: %d failed, %.1fs" % (os.path.basename(sys.argv[0]), len(failed),
                                     time.time() - t_all), flush=True)
    return 1 if failed else 0
