"""Graceful shutdown under load: h2load (h2c and HTTP/1.1) keeps hopwire serve busy, SIGTERM
arrives. Every request either completes or is refused unprocessed (no response cut mid-way:
each 2xx counted by h2load is a succeeded request, no 4xx/5xx), and the process exits 0
within the drain timeout."""
# ctest: RUN_SERIAL
# ctest: TIMEOUT=120
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
from hoptest import SANITIZE, check, serve  # noqa: E402

DRAIN_S = 3.0


def parse(out):
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", out)
    c = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not m or not c:
        return None
    keys = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    r = dict(zip(keys, map(int, m.groups())))
    r.update(zip(("s2xx", "s3xx", "s4xx", "s5xx"), map(int, c.groups())))
    return r


def main():
    body = tempfile.NamedTemporaryFile(delete=False)
    body.write(os.urandom(100))
    body.close()
    # A 20 ms answer delay keeps requests in flight at the moment of the signal.
    srv = serve("--threads", "2", "--delay", "20ms", "--drain-timeout", "%gs" % DRAIN_S)
    url = "http://127.0.0.1:%d/hopwire.bench.v1.BenchService/Echo" % srv.port
    n = "200000" if SANITIZE else "1000000"
    loads = {
        "h2c": subprocess.Popen(["h2load", "-n", n, "-c", "8", "-m", "20", "-d", body.name, url],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
        "h1": subprocess.Popen(["h2load", "--h1", "-n", n, "-c", "20", "-d", body.name, url],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
    }
    try:
        time.sleep(1.5)
        t0 = time.time()
        srv.p.send_signal(signal.SIGTERM)
        try:
            rc = srv.p.wait(DRAIN_S + 5)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t0
        check(rc == 0, "server exits 0 after SIGTERM under load (rc=%s)" % rc)
        check(took < DRAIN_S + 1.0, "exit within the drain timeout (%.2fs < %.1fs + 1s)" % (took, DRAIN_S))
        for name, p in loads.items():
            try:
                out = p.communicate(timeout=30)[0].decode(errors="replace")
            except subprocess.TimeoutExpired:
                p.kill()
                out = p.communicate()[0].decode(errors="replace")
            r = parse(out)
            check(r is not None, "%s: h2load printed its summary" % name)
            print("  %s: %s" % (name, r))
            check(r["succeeded"] > 100, "%s: requests succeeded before the drain" % name)
            check(r["s2xx"] == r["succeeded"],
                  "%s: every response that started completed (2xx %d == succeeded %d)"
                  % (name, r["s2xx"], r["succeeded"]))
            check(r["s4xx"] == 0 and r["s5xx"] == 0 and r["s3xx"] == 0, "%s: no error statuses" % name)
            check(r["timeout"] == 0, "%s: no timeouts" % name)
            check(r["failed"] == r["errored"], "%s: failures are only refused/unsent requests" % name)
    finally:
        for p in loads.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        srv.stop(signal.SIGKILL)
        os.unlink(body.name)


def held_request(threads, drain, http):
    """hopwire serve with a 10 s Echo delay and one curl request in flight (after 0.5 s)."""
    srv = serve("--threads", threads, "--delay", "10s", "--drain-timeout", drain)
    url = "http://127.0.0.1:%d/hopwire.bench.v1.BenchService/Echo" % srv.port
    curl = subprocess.Popen(["curl", "-s", http, "-d", "x", url],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return srv, curl


def wait_exit(srv, timeout):
    """(exit status or None, seconds taken)."""
    t0 = time.time()
    try:
        rc = srv.p.wait(timeout)
    except subprocess.TimeoutExpired:
        rc = None
    return rc, time.time() - t0


def second_signal():
    """A request held 10 s keeps the drain waiting; a second SIGTERM stops at once (exit 0)."""
    srv, curl = held_request("1", "20s", "--http2-prior-knowledge")
    try:
        srv.p.send_signal(signal.SIGTERM)
        time.sleep(0.7)
        check(srv.p.poll() is None, "first SIGTERM: still draining while a request is in flight")
        srv.p.send_signal(signal.SIGTERM)
        rc, took = wait_exit(srv, 5)
        check(rc == 0 and took < 2.0, "second SIGTERM: stops at once, exit 0 (rc=%s)" % rc)
        curl.wait(10)
        check(curl.returncode != 0, "the request cut by the stop fails on the client (curl rc=%s)"
              % curl.returncode)
    finally:
        if curl.poll() is None:
            curl.kill()
        curl.wait()
        srv.stop(signal.SIGKILL)


def drain_deadline():
    """A request held 10 s does not hold the process past a 1 s drain timeout."""
    srv, curl = held_request("2", "1s", "--http1.1")
    try:
        srv.p.send_signal(signal.SIGTERM)
        rc, took = wait_exit(srv, 8)
        check(rc == 0 and 0.9 < took < 2.5, "drain timeout 1 s bounds the exit (%.2fs, rc=%s)" % (took, rc))
    finally:
        if curl.poll() is None:
            curl.kill()
        curl.wait()
        srv.stop(signal.SIGKILL)


if __name__ == "__main__":
    main()
    second_signal()
    drain_deadline()
