#!/usr/bin/python3
"""Scripted h2c fault servers for hopwire's client tests (python3-h2 4.1).

Usage: h2_fault_peer.py SCENARIO LOGFILE|-
Prints "listening on 127.0.0.1:PORT" once bound. Requests carry an `x-id` header; every
request the server *processes* (acts on) is appended to LOGFILE as "CONN ID" so tests can
assert that each call ran exactly once. Scenarios:
  goaway     connection 1: once >= 4 requests arrived, GOAWAY(NO_ERROR, last_stream_id = the
             middle one), answer those <= last, close. Later connections: answer everything.
  refused    first attempt of each x-id: RST_STREAM(REFUSED_STREAM) (not processed); then 200.
  reset      first attempt of each x-id: processed, then RST_STREAM(INTERNAL_ERROR); then 200.
  blackhole  accept TCP, never send a byte.
  stall      send SETTINGS, then never read or answer anything (no PING ACK).
  truncate   answer HEADERS (content-length 1000) + 500 bytes, then reset the TCP connection.
  garbage    answer the preface with bytes that are neither HTTP/2 nor HTTP/1.x.
  bigheader  x-id starting with "big": a 4000-byte response header (ignoring the client's
             SETTINGS_MAX_HEADER_LIST_SIZE); other requests: normal answers.
  continuation  answer with HEADERS without END_HEADERS and 100 CONTINUATION frames.
  echo       answer everything (a control).
  calm       every connection: SETTINGS, then at once GOAWAY(ENHANCE_YOUR_CALM, last 0), and
             nothing more. Logs "CONN conn" per accepted connection.
  protoerr   the same with GOAWAY(PROTOCOL_ERROR).
  goaway-calm  like goaway, with GOAWAY(ENHANCE_YOUR_CALM) instead of NO_ERROR.
  pingstrike connection 1: answers, and on the first PING sends GOAWAY(ENHANCE_YOUR_CALM,
             "too_many_pings") and stops. Later connections answer, and log "CONN ping MS" per
             PING: the milliseconds since the server last sent anything on that connection.
  data-after-end / headers-after-end / priority-zero / priority-self
             RFC 9113 violations (the client must answer GOAWAY(STREAM_CLOSED),
             GOAWAY(STREAM_CLOSED), GOAWAY(PROTOCOL_ERROR), RST_STREAM(PROTOCOL_ERROR)):
             requests whose x-id starts with "hold" are never answered; any other is answered,
             then DATA / HEADERS follow on its closed stream, or a PRIORITY on stream 0; for
             priority-self the stream gets a PRIORITY on itself instead of an answer. What the
             client sends back is logged as "CONN goaway CODE" / "CONN rst CODE".
Responses echo the request body with status 200.
"""
import os
import select
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events
from hyperframe.frame import ContinuationFrame, GoAwayFrame, HeadersFrame

scenario = sys.argv[1]
logpath = sys.argv[2] if len(sys.argv) > 2 else "-"


def log(conn_idx, xid):
    if logpath == "-":
        return
    with open(logpath, "a") as f:
        f.write(f"{conn_idx} {xid}\n")


class Conn:
    def __init__(self, sock, idx):
        self.sock = sock
        self.idx = idx
        self.h2 = None
        self.streams = {}
        self.goaway_sent = False
        self.stalled = False
        self.last_send = time.monotonic()
        if scenario == "garbage":
            sock.sendall(b"\x00\x00\x04\x07\x00\x00\x00\x00\x01garbage-not-a-frame" * 4)
            return
        if scenario not in ("blackhole",):
            cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
            self.h2 = h2.connection.H2Connection(config=cfg)
            self.h2.initiate_connection()
            self.flush()

    def flush(self):
        if self.h2 is None:
            return
        data = self.h2.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
                self.last_send = time.monotonic()
            except OSError:
                pass

    def respond(self, sid):
        st = self.streams.get(sid)
        if st is None:
            return
        body = st["body"]
        self.h2.send_headers(sid, [(":status", "200"), ("content-length", str(len(body))),
                                   ("x-conn", str(self.idx))])
        self.h2.send_data(sid, body, end_stream=True)


attempts = {}
VIOLATIONS = ("data-after-end", "headers-after-end", "priority-zero", "priority-self")


def raw_frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def violate(c, sid):
    """Sends the scenario's RFC 9113 violation about stream |sid| (raw: h2 would refuse)."""
    if scenario == "priority-self":
        c.flush()
        c.sock.sendall(raw_frame(0x2, 0, sid, struct.pack(">IB", sid, 15)))
        return
    c.respond(sid)
    c.flush()
    if scenario == "data-after-end":
        c.sock.sendall(raw_frame(0x0, 0, sid, b"late"))
    elif scenario == "headers-after-end":
        c.sock.sendall(raw_frame(0x1, 0x5, sid, c.h2.encoder.encode([(":status", "200")])))
    elif scenario == "priority-zero":
        c.sock.sendall(raw_frame(0x2, 0, 0, struct.pack(">IB", 1, 15)))


def handle_ready(c, ready):
    """Scenario logic for requests whose END_STREAM arrived."""
    for sid in ready:
        st = c.streams[sid]
        xid = st["headers"].get("x-id", "?")
        n = attempts.get(xid, 0)
        attempts[xid] = n + 1
        if scenario == "refused" and n == 0:
            c.h2.reset_stream(sid, error_code=7)  # REFUSED_STREAM
            continue
        if scenario == "reset" and n == 0:
            log(c.idx, xid)
            c.h2.reset_stream(sid, error_code=2)  # INTERNAL_ERROR
            continue
        if scenario == "truncate":
            log(c.idx, xid)
            c.h2.send_headers(sid, [(":status", "200"), ("content-length", "1000")])
            c.h2.send_data(sid, b"x" * 500)
            c.flush()
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return "close"
        if scenario == "bigheader" and xid.startswith("big"):
            log(c.idx, xid)
            c.h2.send_headers(sid, [(":status", "200"), ("x-big", "b" * 4000)], end_stream=True)
            continue
        if scenario == "continuation":
            log(c.idx, xid)
            c.flush()
            block = c.h2.encoder.encode([(":status", "200")] +
                                        [(f"x-h{i}", "v" * 20) for i in range(200)])
            step = max(1, len(block) // 101)
            parts = [block[i:i + step] for i in range(0, len(block), step)]
            out = HeadersFrame(sid, data=parts[0]).serialize()
            for k, part in enumerate(parts[1:]):
                f = ContinuationFrame(sid, data=part)
                if k == len(parts) - 2:
                    f.flags.add("END_HEADERS")
                out += f.serialize()
            c.sock.sendall(out)
            return "halfclose"
        if scenario in ("goaway", "goaway-calm") and c.idx == 1:
            continue  # decided below, once enough arrived
        if scenario in VIOLATIONS:
            log(c.idx, xid)
            if not xid.startswith("hold"):
                violate(c, sid)
            continue
        log(c.idx, xid)
        c.respond(sid)
    if scenario in ("goaway", "goaway-calm") and c.idx == 1 and not c.goaway_sent:
        done = sorted(s for s, v in c.streams.items() if v["ended"])
        if len(done) >= 4:
            last = done[len(done) // 2 - 1]
            # GOAWAY first, as a draining server sends it; h2 would refuse to answer after
            # its own close_connection(), so the frame goes out raw.
            c.flush()
            code = 11 if scenario == "goaway-calm" else 0
            c.sock.sendall(GoAwayFrame(0, last_stream_id=last, error_code=code).serialize())
            c.goaway_sent = True
            for s in done:
                if s <= last:
                    log(c.idx, c.streams[s]["headers"].get("x-id", "?"))
                    c.respond(s)
            c.flush()
            return "halfclose"
    return None


def on_ping(c):
    """pingstrike: the first connection takes offence at the client's keepalive."""
    if c.idx == 1:
        last = max(c.streams) if c.streams else 0
        c.flush()
        c.sock.sendall(GoAwayFrame(0, last_stream_id=last, error_code=11,
                                   additional_data=b"too_many_pings").serialize())
        return "halfclose"
    log(c.idx, f"ping {int((time.monotonic() - c.last_send) * 1000)}")
    return None


def main():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(256)
    print(f"listening on 127.0.0.1:{srv.getsockname()[1]}", flush=True)
    conns = {}
    nconn = 0
    parent = os.getppid()
    while True:
        if os.getppid() != parent:
            return  # the test died (a failed assertion): don't outlive it as an orphan
        rl, _, _ = select.select([srv] + list(conns), [], [], 1.0)
        for s in rl:
            if s is srv:
                cs, _ = srv.accept()
                nconn += 1
                c = conns[cs] = Conn(cs, nconn)
                if scenario in ("calm", "protoerr"):
                    log(nconn, "conn")
                    code = 11 if scenario == "calm" else 1
                    cs.sendall(GoAwayFrame(0, last_stream_id=0, error_code=code).serialize())
                    cs.shutdown(socket.SHUT_WR)
                    c.h2 = None
                continue
            c = conns[s]
            if c.stalled:
                continue  # never read again: the client's PINGs go unanswered
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                s.close()
                del conns[s]
                continue
            if c.h2 is None:
                continue  # black hole
            if scenario == "stall":
                c.h2.receive_data(data)
                c.flush()
                c.stalled = True
                continue
            try:
                events = c.h2.receive_data(data)
            except Exception:
                s.close()
                del conns[s]
                continue
            ready = []
            action = None
            for ev in events:
                if isinstance(ev, h2.events.PingReceived) and scenario == "pingstrike":
                    action = on_ping(c) or action
                if scenario in VIOLATIONS and isinstance(ev, h2.events.ConnectionTerminated):
                    log(c.idx, f"goaway {int(ev.error_code)}")
                if scenario in VIOLATIONS and isinstance(ev, h2.events.StreamReset):
                    log(c.idx, f"rst {int(ev.error_code)}")
                if isinstance(ev, h2.events.RequestReceived):
                    c.streams[ev.stream_id] = {"headers": dict(ev.headers), "body": b"",
                                               "ended": False}
                elif isinstance(ev, h2.events.DataReceived):
                    if ev.stream_id in c.streams:
                        c.streams[ev.stream_id]["body"] += ev.data
                    c.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    if ev.stream_id in c.streams:
                        c.streams[ev.stream_id]["ended"] = True
                        ready.append(ev.stream_id)
            if c.goaway_sent:
                c.flush()
                continue
            if action is None:
                action = handle_ready(c, ready)
            c.flush()
            if action == "close":
                s.close()
                del conns[s]
            elif action == "halfclose":
                # stop writing, keep reading until the client hangs up: closing with unread
                # input would RST away what it has not read yet
                s.shutdown(socket.SHUT_WR)
                c.h2 = None


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
