"""h2c: a request header list over --max-header-list is answered 431 on its stream (not reset),
whether it comes in one HEADERS frame, spread over CONTINUATION frames, or as request
trailers; a header list just under the cap is served; the connection keeps serving."""
# ctest: TIMEOUT=60
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
from h2attack import ECHO, RawH2, Server, data_frame, plain_block, request_headers  # noqa: E402
from hoptest import check  # noqa: E402

CT = ("content-type", "application/proto")
CAP = 4096


def main():
    with Server("--threads", "1", "--max-header-list", str(CAP)) as srv:
        c = RawH2(srv.port)
        check(c.handshake() is not None, "handshake")
        base = request_headers(srv.port)
        # Each field counts name + value + 32 (RFC 9113).
        used = sum(len(n) + len(v) + 32 for n, v in base)
        fill = CAP - used - len("x-fill") - 32
        c.send_headers(1, base + [("x-fill", "a" * fill)])
        r = c.stream_result(1, 5)
        check(r[:2] == ("response", 200), "a header list of exactly %d bytes is served: %r" % (CAP, r[:2]))

        c.send_headers(3, base + [("x-fill", "a" * (fill + 1))])
        r = c.stream_result(3, 5)
        check(r[:2] == ("response", 431), "one byte over the cap: 431 on the stream: %r (%s)" %
              (r[:2], c.summary()))
        check(not c.rsts(3), "and no RST_STREAM for it")

        # 2000 small fields (~90 KB decoded) over HEADERS + CONTINUATION frames.
        many = base + [("x-h%d" % i, "v" * 8) for i in range(2000)]
        c.send_block(5, plain_block(many), max_frame=16384)
        r = c.stream_result(5, 5)
        check(r[:2] == ("response", 431), "a long list over CONTINUATION frames: 431: %r" % (r[:2],))

        # Request trailers over the cap.
        c.send_headers(7, request_headers(srv.port, "POST", ECHO, [CT]), end_stream=False)
        c.send(data_frame(7, b"abc"))
        c.send_headers(7, [("x-trailer", "t" * (CAP + 10))], end_stream=True)
        r = c.stream_result(7, 5)
        check(r[:2] == ("response", 431), "oversize request trailers: 431: %r" % (r[:2],))

        c.send_headers(11, base)
        r = c.stream_result(11, 5)
        check(r[:2] == ("response", 200), "the connection keeps serving: %r" % (r[:2],))
        check(c.goaway() is None, "no GOAWAY (%s)" % c.summary())
        c.close()
        check(srv.stop() == 0, "server exits 0")


if __name__ == "__main__":
    main()
