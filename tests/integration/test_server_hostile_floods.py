"""HTTP/2 flood attacks against `hopwire serve` (shared/ref/h2-hostile-peers-and-faults.md A1,
A2, A6-A8): each flood is bounded in frames and seconds, stops sending at the first GOAWAY or
close, and must end in the precise reaction while a well-behaved client (a Prober thread: h2
/healthz, h2 Echo, HTTP/1.1 /healthz on fresh connections) keeps being answered. The server
must survive, stay within its memory bound and exit 0 on SIGTERM.
Run: /usr/bin/python3 tests/integration/test_server_hostile_floods.py [case ...]
ctest: RUN_SERIAL
ctest: TIMEOUT=180
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from h2attack import (  # noqa: E402
    ACK, CANCEL, ECHO, ENHANCE_YOUR_CALM, GOAWAY, INTERNAL_ERROR, PING, PRIORITY, PROTOCOL_ERROR,
    SETTINGS, Prober, RawH2, Server, code_name, data_frame, expect, finish_server, frame,
    ping_frame, request_headers, rss_kb, rst_frame, run_cases, settings_frame)

# Cases whose defence the server lacks today: name -> "observed vs expected" (see
# h2attack.run_cases; HOP_HOSTILE_STRICT=1 makes them fail).
KNOWN_FAIL = {}

CT = ("content-type", "application/proto")
MiB = 1024  # in KiB, as /proc reports


def start_attack(srv, **conn_args):
    """Starts the well-behaved Prober, then the attack connection (handshake done)."""
    probe = Prober(srv.port)
    probe.start()
    c = RawH2(srv.port, **conn_args)
    expect(c.handshake() is not None, "handshake")
    return probe, c


def open_echo(c, sid):
    """Opens |sid| as POST Echo without END_STREAM."""
    c.send(c.headers_bytes(sid, request_headers(c.port, "POST", ECHO, [CT]), False))


def case_rapid_reset():
    """A1 (CVE-2023-44487): HEADERS + RST_STREAM(CANCEL) pairs on new streams, 100 per write,
    at most 3000 pairs / 20 s: GOAWAY(INTERNAL_ERROR or ENHANCE_YOUR_CALM) within 1100
    pairs (last_stream_id <= 2201), no response for a cancelled stream (Echo with a 500 ms
    delay), closed <= 1 s after the GOAWAY."""
    with Server("--delay", "500ms") as srv:
        probe, c = start_attack(srv)
        hdrs = request_headers(srv.port, "POST", ECHO, [CT])

        def batch(k):  # streams 200k+1 .. 200k+199
            return b"".join(c.headers_bytes(sid, hdrs) + rst_frame(sid, CANCEL)
                            for sid in range(200 * k + 1, 200 * k + 200, 2))
        pairs, elapsed = c.flood(batch, 100, 3000, 20)
        g = c.expect_goaway_close("rapid reset", (INTERNAL_ERROR, ENHANCE_YOUR_CALM))
        # libnghttp2's bucket: 1000 burst + 33/s; 1100 pairs when sent within ~3 s.
        bound = max(1100, int(1000 + 33 * elapsed + 10))
        expect(g.last_sid <= 2 * bound + 1, "GOAWAY within %d pairs: last_stream_id %d" %
               (bound, g.last_sid))
        expect(not c.responses(), "no response for a cancelled stream, got %d" %
               len(c.responses()))
        probe.finish()
        finish_server(srv)
        return "%d pairs sent, GOAWAY(%s) last_stream_id=%d" % (pairs, code_name(g.code),
                                                               g.last_sid)


def made_you_reset(burst, rate, flags=()):
    """A2 (CVE-2025-8671): per stream HEADERS(POST, content-length: 1) + DATA("xy",
    END_STREAM), which makes the server reset the stream (PROTOCOL_ERROR). First burst-20 such
    streams, 20 per write, waiting for their resets: each reset, no GOAWAY (under the budget);
    then 20 per write at full speed, at most 3000 / 20 s:
    the server's own-reset budget (|burst|, |rate|/s) ends the connection with
    GOAWAY(ENHANCE_YOUR_CALM) after about burst + rate x elapsed resets."""
    with Server(*flags) as srv:
        probe, c = start_attack(srv)
        hdrs = request_headers(srv.port, "POST", ECHO, [CT, ("content-length", "1")])

        def batch(k):  # streams 40k+1 .. 40k+39
            return b"".join(c.headers_bytes(sid, hdrs, False) + data_frame(sid, b"xy", True)
                            for sid in range(40 * k + 1, 40 * k + 40, 2))
        below = burst // 20 - 1
        t0 = time.time()
        for k in range(below):  # 20 at a time: a stream counts against MCS until reset
            c.send(batch(k))
            c.wait(lambda f: len(c.rsts()) >= 20 * (k + 1) or f.type == GOAWAY, 2)
        c.wait(lambda f: f.type == GOAWAY, 0.3)
        expect(c.goaway() is None and len(c.rsts()) == 20 * below,
               "%d bad streams (under the burst of %d): each reset, no GOAWAY: %s" %
               (20 * below, burst, c.summary()))
        # Full speed, but at most 60 streams awaiting their reset (MCS is 100: beyond it the
        # library's GOAWAY(PROTOCOL_ERROR) would answer instead of the reset budget).
        k, n = below, 0
        while n < 3000 and time.time() - t0 < 20 and c.goaway() is None and not c.closed:
            if 20 * k - len(c.rsts()) <= 40:
                if not c.send(batch(k)):
                    break
                k, n = k + 1, n + 20
            c.pump(0.005)
        elapsed = time.time() - t0
        g = c.expect_goaway_close("server-sent resets", ENHANCE_YOUR_CALM)
        rsts = c.rsts()
        expect(rsts and all(f.code == PROTOCOL_ERROR for f in rsts),
               "each bad stream reset with PROTOCOL_ERROR: %s" % c.summary())
        bound = burst + rate * elapsed + 60
        expect(len(rsts) <= bound, "GOAWAY after <= %d server resets, got %d" %
               (bound, len(rsts)))
        probe.finish()
        finish_server(srv)
        return "%d streams sent, %d RST_STREAM(PROTOCOL_ERROR) then GOAWAY(%s) in %.2fs" % (
            n + 20 * below, len(rsts), code_name(g.code), elapsed)


def case_made_you_reset():
    return made_you_reset(200, 20)


def case_made_you_reset_flag():
    return made_you_reset(60, 5, ("--max-resets-sent", "60/5"))


def empty_data_flood(limit, flags=()):
    """A8 (CVE-2019-9518): runs of |limit| empty DATA broken by a 1-byte DATA are fine (Echo
    answers); then on a new stream |limit| zero-length DATA without END_STREAM: no reaction;
    one more: GOAWAY(ENHANCE_YOUR_CALM) and close."""
    with Server(*flags) as srv:
        probe, c = start_attack(srv)
        open_echo(c, 1)
        for _ in range(5):
            c.send(data_frame(1, b"") * limit + data_frame(1, b"z"))
        c.send(data_frame(1, b"", True))
        r = c.stream_result(1, 5)
        expect(r == ("response", 200, b"zzzzz"), "interleaved empty DATA (runs of %d) is "
               "served: %r (%s)" % (limit, r[:2], c.summary()))
        open_echo(c, 3)
        c.send(data_frame(3, b"") * limit)
        c.wait(lambda f: f.type == GOAWAY, 0.5)
        expect(c.goaway() is None and not c.closed, "%d empty DATA in a row are allowed (%s)"
               % (limit, c.summary()))
        c.send(data_frame(3, b""))
        g = c.expect_goaway_close("%d empty DATA in a row" % (limit + 1), ENHANCE_YOUR_CALM)
        probe.finish()
        finish_server(srv)
        return "GOAWAY(%s) after %d empty DATA" % (code_name(g.code), limit + 1)


def case_empty_data_flood():
    return empty_data_flood(10)


def case_empty_data_flood_flag():
    return empty_data_flood(3, ("--max-empty-frames", "3"))


def control_flood(ftype, make, what, rate=100, flags=()):
    """First rate-10 frames in one write (with the handshake's SETTINGS, under |rate|/s): all
    ACKed, no GOAWAY. Then 50 per write while reading, at most 5000 / 10 s: the connection ends
    (GOAWAY(ENHANCE_YOUR_CALM) if any) after the server ACKed <= 2 x rate in all (judged on
    ACKs, not on what was written, so a slow server under load does not make it flaky)."""
    with Server(*flags) as srv:
        probe, c = start_attack(srv)
        c.pump(0.1)

        def acks(frames):
            return len([f for f in frames if f.type == ftype and f.flags & ACK])
        base = acks(c.frames)
        c.send(make() * (rate - 10))
        c.wait(lambda f: acks(c.frames) - base >= rate - 10 or f.type == GOAWAY, 2)
        expect(c.goaway() is None and acks(c.frames) - base == rate - 10,
               "%s: %d under the %d/s budget all ACKed, no GOAWAY (%s)" %
               (what, rate - 10, rate, c.summary()))
        blob = make() * 50
        sent, _ = c.flood(lambda k: blob, 50, 5000, 10, pause=0.002)
        g = c.wait_goaway(3)
        c.wait_closed(3)
        expect(c.closed, "%s: connection ended, got %s" % (what, c.summary()))
        expect(g is None or g.code == ENHANCE_YOUR_CALM,
               "%s: GOAWAY(ENHANCE_YOUR_CALM) if any, got %s" % (what, c.summary()))
        n = acks(c.frames[:c.frames.index(g)] if g is not None else c.frames) - base
        expect(n <= 2 * rate, "%s: ended after <= %d ACKed, got %d ACKs (%d sent)" %
               (what, 2 * rate, n, sent + rate - 10))
        probe.finish()
        finish_server(srv)
        return "%d sent, %d ACKed, %s" % (sent + rate - 10, n, "GOAWAY(%s)" % code_name(g.code)
                                           if g else "closed")


def case_settings_flood():
    """A7 (CVE-2019-9515): empty SETTINGS at full speed (> 100/s): GOAWAY(ENHANCE_YOUR_CALM)."""
    return control_flood(SETTINGS, lambda: settings_frame(), "SETTINGS flood")


def case_ping_flood_reading():
    """A6 for a reading attacker: PINGs at full speed (> 100/s): GOAWAY(ENHANCE_YOUR_CALM)."""
    return control_flood(PING, lambda: ping_frame(), "PING flood")


def case_control_flood_flag():
    """--max-control-rate 30: PINGs past 30/s end the connection."""
    return control_flood(PING, lambda: ping_frame(), "PING flood", 30,
                         ("--max-control-rate", "30"))


def case_ping_flood_not_reading():
    """A6 (CVE-2019-9512): client SO_RCVBUF 4096, never reads, PINGs 1000 per write (at most
    300 000 / 20 s): the server closes the connection (seen as a failed send) and its peak
    RSS grows < 64 MiB."""
    with Server() as srv:
        probe, c = start_attack(srv, rcvbuf=4096, timeout=5.0)
        hwm0 = rss_kb(srv.pid, "VmHWM")
        sent, t0 = 0, time.time()
        blob = ping_frame(b"flood!!!") * 1000
        while sent < 300000 and time.time() - t0 < 20:
            if not c.send(blob):
                break
            sent += 1000
        t_end = time.time() - t0
        # Kernel buffers may absorb the whole flood: then wait for the close, still unread.
        closed_while_flooding = c.wait_hangup(10)
        t_close = (c.closed_at - t0) if c.closed_at else None
        c.closed_at = None
        c.eof = c.reset = False
        c.wait_closed(5)
        hwm1 = rss_kb(srv.pid, "VmHWM")
        g = c.goaway()
        expect(closed_while_flooding, "closed while the client was not reading: %d PINGs in "
               "%.1fs, not closed 10 s later; then %s" % (sent, t_end, c.summary()))
        grow = (hwm1 - hwm0) if hwm0 and hwm1 else None
        expect(grow is not None and grow < 64 * MiB, "server peak RSS grows < 64 MiB: %r KiB"
               % grow)
        probe.finish()
        finish_server(srv)
        return "%d PINGs sent in %.2fs, closed at %.2fs (%s), peak RSS +%d KiB" % (
            sent, t_end, t_close, "GOAWAY(%s) seen" % code_name(g.code) if g else
            "no GOAWAY seen", grow)


def cpu_s(pid):
    """utime + stime of |pid| in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def case_priority_flood():
    """A9 (CVE-2019-9513): 20 000 PRIORITY frames re-parenting an open and idle streams,
    exclusive flag toggled, 1000 per write: priorities are ignored (SETTINGS_NO_RFC7540_
    PRIORITIES=1), so the open stream still completes (or the connection ends with GOAWAY),
    and the server spends < 2 s of CPU on it."""
    with Server() as srv:
        probe, c = start_attack(srv)
        open_echo(c, 1)
        cpu0 = cpu_s(srv.pid)

        def batch(k):
            return b"".join(frame(PRIORITY, 0, 1 + 2 * (i % 50),
                                  struct.pack(">IB", (0x80000000 if i & 1 else 0) |
                                              (3 + 2 * ((i * 7 + k) % 50)), i & 0xFF))
                            for i in range(1000))
        sent, _ = c.flood(batch, 1000, 20000, 15)
        c.send(data_frame(1, b"prio", True))
        r = c.stream_result(1, 5)
        cpu = cpu_s(srv.pid) - cpu0
        g = c.goaway()
        expect(r == ("response", 200, b"prio") or (g is not None and g.code in
                                                   (ENHANCE_YOUR_CALM, PROTOCOL_ERROR)),
               "open stream completes after %d PRIORITY (or GOAWAY): %r (%s)" %
               (sent, r[:2], c.summary()))
        expect(cpu < 2.0, "server CPU for %d PRIORITY frames < 2 s: %.2f s" % (sent, cpu))
        c.close()
        probe.finish()
        finish_server(srv)
        return "%d PRIORITY, %s, server CPU %.2fs" % (sent, "GOAWAY(%s)" % code_name(g.code)
                                                      if g else "stream completed", cpu)


def case_reset_flood_not_reading():
    """A10 (CVE-2019-9514): client SO_RCVBUF 4096, never reads, 20 invalid requests (upper-case
    header name) per write, at most 5000 / 15 s: each must be reset by the server, whose
    own-reset budget or output bound ends the connection (seen without reading, <= 10 s);
    server peak RSS grows < 64 MiB."""
    with Server() as srv:
        probe, c = start_attack(srv, rcvbuf=4096, timeout=3.0)
        hwm0 = rss_kb(srv.pid, "VmHWM")
        hdrs = request_headers(srv.port, extra=[("X-Upper", "a")])
        t0 = time.time()
        sent = 0
        while sent < 5000 and time.time() - t0 < 15:
            blob = b"".join(c.headers_bytes(sid, hdrs) for sid in range(2 * sent + 1,
                                                                         2 * sent + 40, 2))
            if not c.send(blob):
                break
            sent += 20
        closed = c.wait_hangup(10)
        t_close = (c.closed_at - t0) if c.closed_at else None
        hwm1 = rss_kb(srv.pid, "VmHWM")
        grow = (hwm1 - hwm0) if hwm0 and hwm1 else None
        expect(closed, "connection ended while the client was not reading (%d invalid "
               "requests sent, %s)" % (sent, c.send_error))
        expect(grow is not None and grow < 64 * MiB, "server peak RSS grows < 64 MiB: %r KiB"
               % grow)
        c.close()
        probe.finish()
        finish_server(srv)
        return "%d invalid requests sent, closed at %.2fs, peak RSS +%d KiB" % (sent, t_close,
                                                                                grow)


CASES = [
    ("rapid_reset", case_rapid_reset),
    ("made_you_reset", case_made_you_reset),
    ("made_you_reset_flag", case_made_you_reset_flag),
    ("empty_data_flood", case_empty_data_flood),
    ("empty_data_flood_flag", case_empty_data_flood_flag),
    ("settings_flood", case_settings_flood),
    ("ping_flood_reading", case_ping_flood_reading),
    ("control_flood_flag", case_control_flood_flag),
    ("ping_flood_not_reading", case_ping_flood_not_reading),
    ("priority_flood", case_priority_flood),
    ("reset_flood_not_reading", case_reset_flood_not_reading),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES, KNOWN_FAIL))
