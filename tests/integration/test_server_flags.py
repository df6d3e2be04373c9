"""hopwire serve: the h2 flood-limit flags (--max-empty-frames, --max-control-rate,
--max-resets-sent BURST/RATE) are in --help, reject bad values with exit 2, and move the point
where a connection ends with GOAWAY(ENHANCE_YOUR_CALM); a server with the defaults takes the
same traffic without a GOAWAY."""
# ctest: TIMEOUT=60
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
from h2attack import (ECHO, ENHANCE_YOUR_CALM, PING, PROTOCOL_ERROR, RawH2, Server,  # noqa: E402
                      data_frame, ping_frame, request_headers)
from hoptest import CLI, check  # noqa: E402

CT = ("content-type", "application/proto")


def cli_checks():
    out = subprocess.run([CLI, "serve", "--help"], capture_output=True, timeout=10)
    text = out.stdout.decode()
    check(out.returncode == 0 and all(f in text for f in (
        "--max-empty-frames", "--max-control-rate", "--max-resets-sent")),
        "--help lists the three flood flags")
    for flag, value in (("--max-empty-frames", "0"), ("--max-empty-frames", "x"),
                        ("--max-control-rate", "0"), ("--max-control-rate", "-1"),
                        ("--max-resets-sent", "5"), ("--max-resets-sent", "0/1"),
                        ("--max-resets-sent", "5/x"), ("--max-resets-sent", "/5")):
        r = subprocess.run([CLI, "serve", "--listen", "127.0.0.1:0", flag, value],
                           capture_output=True, timeout=10)
        check(r.returncode == 2 and flag.encode() in r.stderr and not r.stdout,
              "%s %s: exit 2 with the cause on stderr (rc=%d)" % (flag, value, r.returncode))


def conn(srv):
    c = RawH2(srv.port)
    check(c.handshake() is not None, "handshake")
    return c


def no_goaway(c, what, wait=0.3):
    c.pump(wait)
    check(c.goaway() is None and not c.closed, "%s: no GOAWAY (%s)" % (what, c.summary()))


def calm(c, what):
    g = c.wait_goaway(3)
    check(g is not None and g.code == ENHANCE_YOUR_CALM,
          "%s: GOAWAY(ENHANCE_YOUR_CALM) (%s)" % (what, c.summary()))


def echo_with_empty(c, sid, empties):
    c.send(c.headers_bytes(sid, request_headers(c.port, "POST", ECHO, [CT]), False) +
           data_frame(sid, b"") * empties)


def bad_length(c, sid):
    """A stream the server must reset (PROTOCOL_ERROR): content-length 1, 2 bytes of DATA."""
    hdrs = request_headers(c.port, "POST", ECHO, [CT, ("content-length", "1")])
    c.send(c.headers_bytes(sid, hdrs, False) + data_frame(sid, b"xy", True))


def limits(srv, empty, control, resets, default):
    tag = "defaults" if default else "flags"
    # Empty DATA frames without END_STREAM, in a row.
    c = conn(srv)
    echo_with_empty(c, 1, empty)
    c.send(data_frame(1, b"z", True))
    r = c.stream_result(1, 5)
    check(r == ("response", 200, b"z"), "%s: %d empty DATA frames are served: %r" % (tag, empty, r))
    echo_with_empty(c, 3, empty + 1)
    if default:
        no_goaway(c, "%s: %d empty DATA frames" % (tag, empty + 1))
    else:
        calm(c, "%s: %d empty DATA frames" % (tag, empty + 1))
    c.close()
    # SETTINGS + PING per second (the handshake's SETTINGS counts).
    c = conn(srv)
    c.send(ping_frame() * (control - 1))
    c.wait(lambda f: len(c.of_type(PING)) >= control - 1, 3)
    check(len(c.of_type(PING)) == control - 1, "%s: %d control frames answered" % (tag, control))
    no_goaway(c, "%s: %d control frames in a second" % (tag, control), 0.1)
    c.close()
    c = conn(srv)
    c.send(ping_frame() * control)
    if default:
        no_goaway(c, "%s: %d control frames in a second" % (tag, control + 1))
    else:
        calm(c, "%s: %d control frames in a second" % (tag, control + 1))
    c.close()
    # Resets the server itself sends.
    c = conn(srv)
    for i in range(resets):
        bad_length(c, 1 + 2 * i)
    c.wait(lambda f: len(c.rsts()) >= resets, 3)
    check(len(c.rsts()) == resets and all(f.code == PROTOCOL_ERROR for f in c.rsts()),
          "%s: %d streams reset by the server (%s)" % (tag, resets, c.summary()))
    no_goaway(c, "%s: %d server resets" % (tag, resets))
    bad_length(c, 1 + 2 * resets)
    if default:
        no_goaway(c, "%s: %d server resets" % (tag, resets + 1))
    else:
        calm(c, "%s: %d server resets" % (tag, resets + 1))
    c.close()


def main():
    cli_checks()
    with Server("--threads", "1", "--max-empty-frames", "3", "--max-control-rate", "5",
                "--max-resets-sent", "3/0") as srv:
        limits(srv, 3, 5, 3, False)
        check(srv.stop() == 0, "flags: server exits 0")
    with Server("--threads", "1") as srv:
        limits(srv, 3, 5, 3, True)
        check(srv.stop() == 0, "defaults: server exits 0")


if __name__ == "__main__":
    main()
