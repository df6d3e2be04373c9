"""RFC 9113 stream-state and PRIORITY rules against `hopwire serve`, frame by frame, on
/healthz and on the Echo path, each case run REPEAT times in two timings:
  answered  the violating frame is sent after the server answered and closed the stream
  racing    the violating frame is in the same write as the request (the stream is still
            half-closed(remote), or, on the server with --delay, not answered yet)
The outcome must be the same in both timings (the server keeps SETTINGS_NO_RFC7540_PRIORITIES,
under which libnghttp2 1.52 forgets closed streams: hopwire's frame gate, src/h2/h2_gate.c,
remembers how they closed).

  data_after_end_stream      DATA on a stream the client ended        GOAWAY(STREAM_CLOSED)
  headers_after_end_stream   HEADERS on a stream the client ended     GOAWAY(STREAM_CLOSED)
  data_after_rst             DATA after the client's RST_STREAM       GOAWAY(STREAM_CLOSED)
  headers_after_rst          HEADERS after the client's RST_STREAM    GOAWAY(STREAM_CLOSED)
  lower_stream_id            HEADERS on 3 after 5 was opened          GOAWAY(PROTOCOL_ERROR)
  priority_stream_0          PRIORITY on stream 0                     GOAWAY(PROTOCOL_ERROR)
  priority_self_dependency   PRIORITY making a stream depend on itself RST_STREAM(PROTOCOL_ERROR),
                                                                      then the connection answers
  bad_preface                "PRI * HTTP/2.0" with a wrong tail       GOAWAY(PROTOCOL_ERROR), close,
                                                                      no HTTP/1.1 answer
Run: /usr/bin/python3 tests/integration/test_server_h2_conformance.py [case ...]
HOP_CONF_REPEAT=N changes the repetitions (default 20; 5 in the sanitizer builds, which
repeat the same code paths 3-5x slower); HOP_CONF_REPORT=1 prints what each
case got instead of failing (used to record the before/after table).
ctest: TIMEOUT=300
"""
import collections
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from h2attack import (  # noqa: E402
    ACK, ECHO, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PREFACE, PRIORITY, PROTOCOL_ERROR,
    RST_STREAM, SETTINGS, STREAM_CLOSED, CANCEL, RawH2, Server, code_name, data_frame, expect,
    finish_server, frame, plain_block, request_headers, rst_frame, run_cases)

_SAN = os.environ.get("HOP_SANITIZE", "0") in ("1", "ON", "TRUE", "true")
REPEAT = int(os.environ.get("HOP_CONF_REPEAT", "5" if _SAN else "20"))
REPORT = os.environ.get("HOP_CONF_REPORT", "") not in ("", "0")
CT = ("content-type", "application/proto")
_srv = {}


def server(kind):
    if kind not in _srv:
        _srv[kind] = Server("--delay", "50ms") if kind == "slow" else Server()
    return _srv[kind]


# (label, server kind, request bytes for stream |sid|)
def req_healthz(port, sid):
    return frame(HEADERS, END_STREAM | END_HEADERS, sid,
                 plain_block(request_headers(port, "GET", "/healthz")))


def req_echo(port, sid):
    return (frame(HEADERS, END_HEADERS, sid,
                  plain_block(request_headers(port, "POST", ECHO, [CT, ("content-length", "2")])))
            + data_frame(sid, b"\x08\x01", True))


TARGETS = [("healthz", "fast", req_healthz), ("echo", "fast", req_echo),
           ("echo_delayed", "slow", req_echo)]


def headers_again(port, sid):
    return frame(HEADERS, END_STREAM | END_HEADERS, sid,
                 plain_block(request_headers(port, "GET", "/healthz")))


# case -> (steps(port, req) -> list of byte strings; a None step = wait for the stream's end,
#          expected outcome)
CASES = {
    "data_after_end_stream": (lambda p, r: [r(p, 1), None, data_frame(1, b"x")],
                              ("goaway", STREAM_CLOSED)),
    "headers_after_end_stream": (lambda p, r: [r(p, 1), None, headers_again(p, 1)],
                                 ("goaway", STREAM_CLOSED)),
    "data_after_rst": (lambda p, r: [r(p, 1), None, rst_frame(1, CANCEL), data_frame(1, b"x")],
                       ("goaway", STREAM_CLOSED)),
    "headers_after_rst": (lambda p, r: [r(p, 1), None, rst_frame(1, CANCEL),
                                        headers_again(p, 1)], ("goaway", STREAM_CLOSED)),
    "lower_stream_id": (lambda p, r: [r(p, 5), None, headers_again(p, 3)],
                        ("goaway", PROTOCOL_ERROR)),
    "priority_stream_0": (lambda p, r: [r(p, 1), None,
                                        frame(PRIORITY, 0, 0, struct.pack(">IB", 1, 15))],
                          ("goaway", PROTOCOL_ERROR)),
    "priority_self_dependency": (lambda p, r: [r(p, 1), None,
                                               frame(PRIORITY, 0, 1, struct.pack(">IB", 1, 15))],
                                 ("rst", PROTOCOL_ERROR)),
}


def outcome(c, sid, timeout=3.0):
    """What the connection did after the violation: ('goaway', code), ('rst', code) (and the
    connection then answered a new stream), ('ignored',) or ('timeout',)."""
    g = c.wait(lambda f: f.type == GOAWAY or (f.type == RST_STREAM and f.sid == sid and
                                              f.code != CANCEL), timeout)
    if g is None:
        if c.closed:
            return ("closed",)
        # nothing: does the connection still answer?
        c.send(req_healthz(c.port, 101))
        r = c.stream_result(101, 2)
        return ("ignored",) if r[:2] == ("response", 200) else ("silent", r[0])
    if g.type == GOAWAY:
        c.wait_closed(2)
        return ("goaway", g.code) if c.closed else ("goaway-open", g.code)
    c.send(req_healthz(c.port, 101))
    r = c.stream_result(101, 2)
    if r[:2] != ("response", 200):
        return ("rst-then-dead", g.code)
    return ("rst", g.code)


def run_one(kind, req, steps_fn, timing):
    srv = server(kind)
    c = RawH2(srv.port)
    try:
        expect(c.handshake() is not None, "handshake")
        c.wait(lambda f: f.type == SETTINGS and f.flags & ACK, 2)
        steps = steps_fn(c.port, req)
        sid = 1
        if timing == "racing":
            c.send(b"".join(s for s in steps if s is not None))
        else:
            for s in steps:
                if s is None:
                    first = steps[0]
                    sid = struct.unpack(">I", first[5:9])[0] & 0x7FFFFFFF
                    r = c.stream_result(sid, 3)
                    expect(r[:2] == ("response", 200), "answered before the violation: %r" %
                           (r[:2],))
                else:
                    c.send(s)
        return outcome(c, 1)
    finally:
        c.close()


def fmt(o):
    return "%s(%s)" % (o[0], code_name(o[1])) if len(o) > 1 and isinstance(o[1], int) else o[0]


def make_case(name):
    steps_fn, want = CASES[name]

    def run():
        notes = []
        for label, kind, req in TARGETS:
            for timing in ("answered", "racing"):
                got = collections.Counter(fmt(run_one(kind, req, steps_fn, timing))
                                          for _ in range(REPEAT))
                notes.append("%s/%s: %s" % (label, timing, dict(got)))
                if not REPORT:
                    expect(list(got) == [fmt(want)], "%s on %s (%s): want %s x%d, got %s" % (
                        name, label, timing, fmt(want), REPEAT, dict(got)))
        return "; ".join(notes)
    run.__doc__ = name
    return run


def case_bad_preface():
    srv = server("fast")
    got = collections.Counter()
    for _ in range(REPEAT):
        c = RawH2(srv.port)
        try:
            c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
            c.wait_closed(3)
            c._parse()
            g = c.goaway()
            if bytes(c.buf).startswith(b"HTTP/1.") or (c.frames and c.frames[0].type == 0x48):
                got["http/1.1 answer"] += 1
            elif g is not None and c.closed:
                got[fmt(("goaway", g.code))] += 1
            else:
                got["closed without goaway" if c.closed else "open"] += 1
        finally:
            c.close()
    if not REPORT:
        expect(list(got) == ["goaway(PROTOCOL_ERROR)"], "bad preface: want GOAWAY(PROTOCOL_ERROR) "
               "then close x%d, got %s" % (REPEAT, dict(got)))
    return str(dict(got))


def case_good_preface_split():
    """The right preface in 1-byte pieces is still HTTP/2 (the sniffer waits)."""
    srv = server("fast")
    c = RawH2(srv.port)
    try:
        for i in range(len(PREFACE)):
            c.send(PREFACE[i:i + 1])
        c.send(frame(SETTINGS, 0, 0, b"") + req_healthz(srv.port, 1))
        r = c.stream_result(1, 3)
        expect(r[:2] == ("response", 200), "split preface: %r (%s)" % (r[:2], c.summary()))
    finally:
        c.close()


def case_servers_survive():
    try:
        for s in list(_srv.values()):
            finish_server(s)
    finally:
        _srv.clear()


ALL = [(n, make_case(n)) for n in CASES] + [
    ("bad_preface", case_bad_preface), ("good_preface_split", case_good_preface_split),
    ("conformance_servers_survive", case_servers_survive)]

if __name__ == "__main__":
    try:
        rc = run_cases(ALL)
    finally:
        for s in _srv.values():
            s.stop()
    sys.exit(rc)
