"""--max-body-buffer: the request-body bytes the whole server holds (unfinished uploads and
bodies of requests not yet answered, h2 and HTTP/1.1 together) are capped. Over the budget an
h2 stream is reset with REFUSED_STREAM (not processed: safe to retry) while its connection
keeps serving, and an HTTP/1.1 request is answered 503 and its connection closed. Bodies
that fit are served meanwhile, and once the held upload is answered the budget is free
again."""
# ctest: TIMEOUT=90
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
from h2attack import (DATA, ECHO, REFUSED_STREAM, RST_STREAM, S_INITIAL_WINDOW_SIZE,  # noqa: E402
                      WINDOW_UPDATE, RawH1, RawH2, Server, code_name, data_frame, finish_server,
                      h1_call, h1_post, h2_call, plain_block, request_headers)
from hoptest import check  # noqa: E402

CT = ("content-type", "application/proto")
MIB = 1024 * 1024
HELD = 3 * MIB // 2  # what connection A uploads and holds (never ending it until the end)


def upload(c, sid, total, init, timeout=10.0):
    """Sends |total| body bytes on |sid| (no END_STREAM) within the server's flow-control
    windows. Returns (bytes sent, RST code or None)."""
    sent, seen, wu = 0, 0, {}
    chunk = b"u" * 16384
    deadline = time.time() + timeout
    while sent < total and time.time() < deadline and not c.closed:
        for f in c.frames[seen:]:
            if f.type == WINDOW_UPDATE:
                wu[f.sid] = wu.get(f.sid, 0) + (struct.unpack(">I", f.payload[:4])[0] & 0x7FFFFFFF)
            elif f.type == RST_STREAM and f.sid == sid:
                return sent, f.code
        seen = len(c.frames)
        left = min(65535 + wu.get(0, 0) - sent, init + wu.get(sid, 0) - sent, total - sent)
        if left >= len(chunk) or left == total - sent > 0:
            n = min(left, len(chunk))
            c.send(data_frame(sid, chunk[:n]))
            sent += n
        else:
            c.pump(0.01)
    c.pump(0.3)
    rst = [f.code for f in c.rsts(sid)]
    return sent, (rst[0] if rst else None)


def open_upload(port):
    c = RawH2(port)
    st = c.handshake()
    check(st is not None, "h2 handshake")
    c.send_block(1, plain_block(request_headers(port, "POST", ECHO, [CT])), False)
    return c, st.get(S_INITIAL_WINDOW_SIZE, 65535)


def main():
    with Server("--threads", "2", "--max-body-buffer", "2m", "--max-body", "4m") as srv:
        # A holds 1.5 MiB of an unfinished upload: within the 2 MiB budget.
        a, init = open_upload(srv.port)
        sent, rst = upload(a, 1, HELD, init)
        check(sent == HELD and rst is None, "A uploads %d bytes unrefused: sent %d, rst %s (%s)"
              % (HELD, sent, rst and code_name(rst), a.summary()))

        # B's upload on another connection passes the server budget: REFUSED_STREAM, and B's
        # connection goes on serving.
        b, init_b = open_upload(srv.port)
        sent_b, rst_b = upload(b, 1, HELD, init_b)
        check(rst_b == REFUSED_STREAM, "B refused with REFUSED_STREAM after %d bytes, got %s (%s)"
              % (sent_b, rst_b and code_name(rst_b), b.summary()))
        check(sent_b < HELD, "B refused before its whole body: %d of %d" % (sent_b, HELD))
        b.send_block(3, plain_block(request_headers(srv.port)))
        r = b.stream_result(3, 5)
        check(r[:2] == ("response", 200), "B's connection still serves: %r" % (r[:2],))

        # HTTP/1.1: a 1 MiB body does not fit next to A's: 503 and the connection closes.
        c = RawH1(srv.port)
        c.send(h1_post(ECHO, b"h" * MIB))
        resp = c.read_response(5)
        check(resp is not None and resp[0] == 503, "HTTP/1.1 over the budget: 503, got %r"
              % (resp and resp[:2],))
        check(resp[1].get("connection") == "close", "and connection: close: %r" % (resp[1],))
        check(c.wait_closed(3) is not None, "and the connection closed")
        c.close()

        # What fits is served meanwhile.
        small = b"s" * (100 * 1024)
        r = h1_call(srv.port, h1_post(ECHO, small))
        check(r is not None and r[0] == 200 and r[2] == small, "a 100 KiB HTTP/1.1 body fits: %r"
              % (r and r[:2],))

        # A ends its upload: answered with its whole body, and the budget is released.
        a.send(data_frame(1, b"", end_stream=True))
        r = a.stream_result(1, 10)
        check(r[0] == "response" and r[1] == 200 and len(r[2]) == HELD,
              "A answered with its %d bytes: %r" % (HELD, (r[0], r[1], len(r[2]) if len(r) > 2 else None)))
        for conn in (a, b):
            conn.close()

        big = b"g" * MIB
        r = h1_call(srv.port, h1_post(ECHO, big), timeout=10)
        check(r is not None and r[0] == 200 and r[2] == big,
              "after A's answer a 1 MiB HTTP/1.1 body is served: %r" % (r and r[:2],))
        res = h2_call(srv.port, "POST", ECHO, b"q" * HELD, headers=[CT], timeout=10)
        check(res["status"] == 200 and len(res["body"]) == HELD and res["reset"] is None,
              "and a 1.5 MiB h2 body: status %r, %d bytes, reset %r, error %r"
              % (res["status"], len(res["body"]), res["reset"], res["error"]))
        finish_server(srv)
    print("body budget: h2 REFUSED_STREAM, HTTP/1.1 503 + close, released after answers")


if __name__ == "__main__":
    main()
