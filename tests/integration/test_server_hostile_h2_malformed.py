"""Malformed HTTP/2 input against `hopwire serve`: an in-tree stand-in for the h2spec checks
that matter for a hostile peer (shared/ref/h2-hostile-peers-and-faults.md B3-B7, A11).

One server for the whole table (a crash shows as every later row failing); each row opens
a fresh connection, sends one malformed sequence after the handshake and asserts the RFC 9113
outcome: a connection error (GOAWAY with the code, then close), a stream error
(RST_STREAM with the code, the connection then still answering a new stream), or "ignored"
(the connection answers a request). The last row checks a well-behaved client and a clean
exit on SIGTERM.
Run: /usr/bin/python3 tests/integration/test_server_hostile_h2_malformed.py [case ...]
ctest: TIMEOUT=120
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from h2attack import (  # noqa: E402
    ACK, COMPRESSION_ERROR, CONTINUATION, DATA, ECHO, END_HEADERS, END_STREAM,
    FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, GOAWAY, HEADERS, PADDED, PING, PRIORITY_FLAG,
    PROTOCOL_ERROR, PUSH_PROMISE, RST_STREAM, S_ENABLE_PUSH, S_INITIAL_WINDOW_SIZE,
    S_MAX_FRAME_SIZE, SETTINGS, WINDOW_UPDATE, RawH2, Server, code_name, data_frame, expect,
    finish_server, frame, hpack_int, plain_block, request_headers, run_cases, settings_frame,
    window_update_frame)

# Rows whose outcome the server does not give today: name -> "observed vs expected".
KNOWN_FAIL = {}

CT = ("content-type", "application/proto")
_srv = []


def server():
    if not _srv:
        _srv.append(Server("--delay", "1s"))
    return _srv[0]


def get(port, path="/healthz"):
    return plain_block(request_headers(port, "GET", path))


def post_open(c, sid=1, extra=()):
    """Opens |sid| as POST Echo without END_STREAM (the server waits for the body)."""
    return c.send(frame(HEADERS, END_HEADERS, sid,
                        plain_block(request_headers(c.port, "POST", ECHO, [CT] + list(extra)))))


def raw(b):
    return lambda c: c.send(b)


def hdrs(headers_fn, sid=1):
    """HEADERS(END_STREAM) on |sid| with the list |headers_fn(port)| (any order/content)."""
    return lambda c: c.send_block(sid, plain_block(headers_fn(c.port)))


def base(port, drop=(), add=()):
    return [(n, v) for n, v in request_headers(port) if n not in drop] + list(add)


def seq(*steps):
    def run(c):
        for s in steps:
            if callable(s):
                s(c)
            else:
                c.send(s)
    return run


# (name, what, setup(c), outcome, codes, sid for rst rows / next sid for the follow-up)
ROWS = [
    # B3 frame sizes
    ("ping_len_7", "PING with 7 bytes", raw(frame(PING, 0, 0, b"\0" * 7)),
     "goaway", (FRAME_SIZE_ERROR,), 1),
    ("rst_len_0", "RST_STREAM with 0 bytes", seq(post_open, frame(RST_STREAM, 0, 1, b"")),
     "goaway", (FRAME_SIZE_ERROR,), 3),
    ("window_update_len_3", "WINDOW_UPDATE with 3 bytes",
     raw(frame(WINDOW_UPDATE, 0, 0, b"\0\0\1")), "goaway", (FRAME_SIZE_ERROR,), 1),
    ("settings_len_5", "SETTINGS with 5 bytes", raw(frame(SETTINGS, 0, 0, b"\0" * 5)),
     "goaway", (FRAME_SIZE_ERROR,), 1),
    ("settings_ack_payload", "SETTINGS ACK with a payload",
     raw(frame(SETTINGS, ACK, 0, b"\0" * 6)), "goaway", (FRAME_SIZE_ERROR,), 1),
    ("data_over_max_frame", "DATA of 16385 bytes (> SETTINGS_MAX_FRAME_SIZE)",
     seq(post_open, data_frame(1, b"d" * 16385)), "goaway", (FRAME_SIZE_ERROR,), 3),
    # B4 stream states
    ("data_idle_stream", "DATA on an idle stream", raw(data_frame(1, b"x")),
     "goaway", (PROTOCOL_ERROR,), 1),
    ("rst_idle_stream", "RST_STREAM on an idle stream", raw(frame(RST_STREAM, 0, 1,
                                                                   b"\0\0\0\x08")),
     "goaway", (PROTOCOL_ERROR,), 1),
    ("window_update_idle_stream", "WINDOW_UPDATE on an idle stream",
     raw(window_update_frame(1, 100)), "goaway", (PROTOCOL_ERROR,), 1),
    ("even_stream_id", "HEADERS on stream 2", lambda c: c.send_block(2, get(c.port)),
     "goaway", (PROTOCOL_ERROR,), 1),
    # RFC 9113 5.1.1: PROTOCOL_ERROR. libnghttp2 ignores a HEADERS whose id is below the last
    # one unless it knows the stream closed; hopwire's frame gate does not (h2_gate.c).
    ("decreasing_stream_id", "HEADERS on 5 then on 3",
     seq(lambda c: c.send_block(5, get(c.port)), lambda c: c.send_block(3, get(c.port))),
     "goaway", (PROTOCOL_ERROR,), 7),
    ("continuation_without_headers", "CONTINUATION without HEADERS",
     raw(frame(CONTINUATION, END_HEADERS, 1, b"\x82")), "goaway", (PROTOCOL_ERROR,), 1),
    ("frame_inside_header_block", "PING between HEADERS and its CONTINUATION",
     lambda c: c.send(frame(HEADERS, END_STREAM, 1, get(c.port)) + frame(PING, 0, 0, b"\0" * 8)
                      + frame(CONTINUATION, END_HEADERS, 1, b"")),
     "goaway", (PROTOCOL_ERROR,), 3),
    ("push_promise_from_client", "PUSH_PROMISE from a client",
     seq(post_open, frame(PUSH_PROMISE, END_HEADERS, 1, b"\0\0\0\x02\x82")),
     "goaway", (PROTOCOL_ERROR,), 3),
    ("settings_on_stream", "SETTINGS on stream 1", raw(frame(SETTINGS, 0, 1, b"")),
     "goaway", (PROTOCOL_ERROR,), 1),
    ("ping_on_stream", "PING on stream 1", raw(frame(PING, 0, 1, b"\0" * 8)),
     "goaway", (PROTOCOL_ERROR,), 1),
    ("goaway_on_stream", "GOAWAY on stream 1", raw(frame(GOAWAY, 0, 1, b"\0" * 8)),
     "goaway", (PROTOCOL_ERROR,), 1),
    ("data_bad_padding", "DATA whose pad length exceeds the payload",
     seq(post_open, frame(DATA, PADDED, 1, b"\x10abc")), "goaway", (PROTOCOL_ERROR,), 3),
    ("headers_self_dependency", "HEADERS depending on its own stream",
     lambda c: c.send(frame(HEADERS, END_STREAM | END_HEADERS | PRIORITY_FLAG, 1,
                            struct.pack(">IB", 1, 15) + get(c.port))),
     "either", (PROTOCOL_ERROR,), 1),
    # B5 flow control
    ("window_update_zero_conn", "WINDOW_UPDATE of 0 on the connection",
     raw(window_update_frame(0, 0)), "goaway", (PROTOCOL_ERROR,), 1),
    # A stream error by RFC 9113 6.9; libnghttp2 1.52 ends the connection (allowed, 5.4.1).
    ("window_update_zero_stream", "WINDOW_UPDATE of 0 on a stream",
     seq(post_open, window_update_frame(1, 0)), "either", (PROTOCOL_ERROR,), 1),
    ("window_overflow_conn", "connection window past 2^31-1",
     raw(window_update_frame(0, 0x7FFFFFFF)), "goaway", (FLOW_CONTROL_ERROR,), 1),
    ("window_overflow_stream", "stream window past 2^31-1",
     seq(post_open, window_update_frame(1, 0x7FFFFFFF)), "rst", (FLOW_CONTROL_ERROR,), 1),
    ("settings_window_too_big", "SETTINGS_INITIAL_WINDOW_SIZE 2^31",
     raw(settings_frame([(S_INITIAL_WINDOW_SIZE, 1 << 31)])), "goaway",
     (FLOW_CONTROL_ERROR,), 1),
    ("settings_enable_push_2", "SETTINGS_ENABLE_PUSH 2",
     raw(settings_frame([(S_ENABLE_PUSH, 2)])), "goaway", (PROTOCOL_ERROR,), 1),
    ("settings_max_frame_too_small", "SETTINGS_MAX_FRAME_SIZE 16383",
     raw(settings_frame([(S_MAX_FRAME_SIZE, 16383)])), "goaway", (PROTOCOL_ERROR,), 1),
    # B6 HPACK
    ("hpack_index_0", "HPACK index 0", lambda c: c.send_block(1, b"\x80"),
     "goaway", (COMPRESSION_ERROR,), 1),
    ("hpack_index_past_table", "HPACK index 70 with an empty dynamic table",
     lambda c: c.send_block(1, get(c.port) + hpack_int(70, 7, 0x80)),
     "goaway", (COMPRESSION_ERROR,), 1),
    ("hpack_table_size_too_big", "HPACK table size update to 8192 (> 4096)",
     lambda c: c.send_block(1, hpack_int(8192, 5, 0x20) + get(c.port)),
     "goaway", (COMPRESSION_ERROR,), 1),
    ("hpack_table_size_not_first", "HPACK table size update after a field",
     lambda c: c.send_block(1, get(c.port) + hpack_int(100, 5, 0x20)),
     "goaway", (COMPRESSION_ERROR,), 1),
    # B7 HTTP semantics: stream errors
    ("uppercase_header_name", "upper-case header name",
     hdrs(lambda p: base(p, add=[("X-Upper", "a")])), "rst", (PROTOCOL_ERROR,), 1),
    ("connection_header", "connection: keep-alive",
     hdrs(lambda p: base(p, add=[("connection", "keep-alive")])), "rst", (PROTOCOL_ERROR,), 1),
    ("te_gzip", "te: gzip", hdrs(lambda p: base(p, add=[("te", "gzip")])),
     "rst", (PROTOCOL_ERROR,), 1),
    ("missing_path", "no :path", hdrs(lambda p: base(p, drop=(":path",))),
     "rst", (PROTOCOL_ERROR,), 1),
    ("missing_method", "no :method", hdrs(lambda p: base(p, drop=(":method",))),
     "rst", (PROTOCOL_ERROR,), 1),
    ("duplicate_path", "two :path", hdrs(lambda p: base(p, add=[(":path", "/healthz")])),
     "rst", (PROTOCOL_ERROR,), 1),
    ("pseudo_after_regular", "pseudo-header after a regular one",
     hdrs(lambda p: base(p, drop=(":path",)) + [("x-a", "b"), (":path", "/healthz")]),
     "rst", (PROTOCOL_ERROR,), 1),
    ("unknown_pseudo", "unknown pseudo-header :foo",
     hdrs(lambda p: base(p, add=[(":foo", "bar")])), "rst", (PROTOCOL_ERROR,), 1),
    ("empty_path", "empty :path", hdrs(lambda p: base(p, drop=(":path",)) + [(":path", "")]),
     "rst", (PROTOCOL_ERROR,), 1),
    ("empty_header_names", "A11: 10 000 fields with an empty name",
     hdrs(lambda p: base(p) + [("", "")] * 10000), "rst", (PROTOCOL_ERROR,), 1),
    ("content_length_short", "content-length 5 with 3 bytes of DATA",
     seq(lambda c: post_open(c, 1, [("content-length", "5")]), data_frame(1, b"abc", True)),
     "rst", (PROTOCOL_ERROR,), 1),
    ("content_length_long", "content-length 1 with 2 bytes of DATA",
     seq(lambda c: post_open(c, 1, [("content-length", "1")]), data_frame(1, b"ab", True)),
     "rst", (PROTOCOL_ERROR,), 1),
    # ignored, must not disturb the connection
    ("unknown_frame_type", "frames of unknown type 0xfa on streams 0 and 1",
     raw(frame(0xFA, 0xFF, 0, b"junk") + frame(0xFA, 0, 1, b"more junk")), "ignored", (), 1),
    ("unknown_setting", "SETTINGS with an unknown id",
     raw(settings_frame([(0xFF, 1234)])), "ignored", (), 1),
]


def make_case(name, what, setup, outcome, codes, sid):
    def run():
        srv = server()
        c = RawH2(srv.port)
        try:
            expect(c.handshake() is not None, "handshake")
            c.wait(lambda f: f.type == SETTINGS and f.flags & ACK, 2)
            setup(c)
            if outcome == "goaway":
                c.expect_goaway_close(what, codes)
                return None
            if outcome == "either":
                r = c.stream_result(sid, 3)
                g = c.goaway()
                expect((r[0] == "rst" and r[1] in codes) or (g is not None and g.code in codes),
                       "%s: RST_STREAM or GOAWAY(%s), got %r (%s)" % (
                           what, code_name(codes[0]), r, c.summary()))
                return "rst" if r[0] == "rst" else "goaway"
            if outcome == "rst":
                r = c.stream_result(sid, 3)
                expect(r[0] == "rst" and r[1] in codes, "%s: RST_STREAM(%s) on stream %d, "
                       "got %r (%s)" % (what, code_name(codes[0]), sid, r, c.summary()))
                nxt = sid + 2
            else:
                nxt = sid
            c.send_block(nxt, get(c.port))
            r = c.stream_result(nxt, 3)
            expect(r[:2] == ("response", 200) and c.goaway() is None and
                   len(c.responses()) == len(set(f.sid for f in c.responses())),
                   "%s: the connection still answers stream %d, got %r (%s)" %
                   (what, nxt, r[:2], c.summary()))
            return None
        finally:
            c.close()
    run.__doc__ = what
    return run


def case_server_survives():
    srv = server()
    try:
        finish_server(srv)
    finally:
        _srv.clear()


CASES = [(n, make_case(n, w, s, o, codes, sid)) for n, w, s, o, codes, sid in ROWS] + [
    ("malformed_server_survives", case_server_survives)]

if __name__ == "__main__":
    try:
        rc = run_cases(CASES, KNOWN_FAIL)
    finally:
        for s in _srv:
            s.stop()
    sys.exit(rc)
