"""hopwire bench end to end: flags, failure causes, JSON shape, SVG, and the dial relation.

ctest: RUN_SERIAL
ctest: TIMEOUT=300

Each real run spawns its own `hopwire serve` (the bench does) on 127.0.0.1:0 and is bounded
by --requests and the subprocess timeout.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
import hoptest  # noqa: E402
from hoptest import check  # noqa: E402

CLI = hoptest.CLI
KEYS = ["mode", "requests", "errors", "dials", "rps", "p50_us", "p90_us", "p99_us",
        "max_us", "cpu_s", "time_wait", "rss_kb"]
# Release build: 2000 calls per mode at concurrency 50; ASan is ~5x slower.
REQUESTS = 600 if hoptest.SANITIZE else 2000
CONC = 50


def bench(*args, timeout=120):
    p = subprocess.run([CLI, "bench", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def json_lines(out):
    rows = []
    for line in out.splitlines():
        obj = json.loads(line)  # every stdout line must be one JSON object
        check(list(obj.keys()) == KEYS, "JSON keys are exactly the 12, in order: %s" % line)
        for k in KEYS[1:]:
            check(isinstance(obj[k], (int, float)) and not isinstance(obj[k], bool)
                  and obj[k] >= 0, "%s is a non-negative number" % k)
        rows.append(obj)
    return rows


def test_help_and_bad_flags():
    rc, out, err = bench("--help")
    check(rc == 0 and "usage: hopwire bench" in out and "--dial-cost" in out, "--help")
    for args, needle in [(["--bogus"], "--bogus"), (["--mode", "h3"], "--mode"),
                         (["--concurrency", "0"], "--concurrency"),
                         (["--duration", "soon"], "--duration"),
                         (["--duration", "1s", "--requests", "10"], "exclude"),
                         (["--target", "https://127.0.0.1:1/"], "http://"),
                         (["--payload"], "needs a value")]:
        rc, out, err = bench(*args)
        lines = err.strip().splitlines()
        check(rc == 2 and out == "" and len(lines) == 1 and needle in lines[0]
              and lines[0].startswith("hopwire bench: "),
              "bad flags %s -> exit 2 and one line naming it (got %d %r)" % (args, rc, err))


def test_unreachable_target():
    port = hoptest.free_port()  # nothing listens there
    rc, out, err = bench("--target", "http://127.0.0.1:%d/x" % port, "--mode", "h2c",
                         "--requests", "100", "--concurrency", "10", "--warmup", "0",
                         "--json", timeout=60)
    check(rc == 1 and out == "", "unreachable target: exit 1, nothing on stdout (rc %d)" % rc)
    check(len(err.strip().splitlines()) == 1 and "refused" in err,
          "unreachable target: one line with the cause: %r" % err)
    rc, out, err = bench("--target", "http://127.0.0.1:%d/x" % port, "--mode", "h1-default",
                         "--requests", "100", "--concurrency", "10", "--warmup", "0",
                         timeout=60)
    check(rc == 1 and out == "" and "refused" in err, "unreachable target, table mode: no table")


def test_silent_target():
    # Accepts TCP (backlog) and never answers: the run ends on time with a cause, not zeros.
    import socket
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    try:
        url = "http://127.0.0.1:%d/x" % ls.getsockname()[1]
        rc, out, err = bench("--target", url, "--mode", "h2c", "--duration", "500ms",
                             "--warmup", "0", "--concurrency", "10", timeout=60)
        check(rc == 1 and out == "" and "no call completed" in err
              and "10 still waiting" in err, "a silent target: exit 1 with the cause: %r" % err)
    finally:
        ls.close()


def test_server_errors():
    srv = hoptest.serve()
    try:
        url = "http://127.0.0.1:%d/no.Such/Method" % srv.port
        rc, out, err = bench("--target", url, "--mode", "h2c", "--requests", "100",
                             "--concurrency", "10", "--warmup", "0", timeout=60)
        check(rc == 1 and out == "" and "HTTP 404" in err,
              "a server answering 404: exit 1 with the status as cause: %r" % err)
    finally:
        srv.stop()


def test_all_modes_dial_relation():
    with tempfile.TemporaryDirectory() as tmp:
        svg = os.path.join(tmp, "cdf.svg")
        rc, out, err = bench("--mode", "all", "--requests", str(REQUESTS), "--concurrency",
                             str(CONC), "--warmup", "0", "--dial-cost", "1ms",
                             "--server-delay", "1ms", "--json", "--plot", svg, timeout=200)
        check(rc == 0, "bench --mode all exits 0 (stderr %r)" % err)
        rows = json_lines(out)
        check([r["mode"] for r in rows] == ["h1-default", "h1-pool", "h2c"],
              "one JSON object per mode per line, in order")
        by = {r["mode"]: r for r in rows}
        for r in rows:
            check(r["errors"] == 0, "%s: 0 errors" % r["mode"])
            check(r["requests"] == REQUESTS, "%s: %d requests measured" % (r["mode"], REQUESTS))
            check(r["rps"] > 0 and r["p50_us"] <= r["p90_us"] <= r["p99_us"] <= r["max_us"],
                  "%s: throughput and ordered quantiles" % r["mode"])
            check(r["p50_us"] >= 1000, "%s: p50 includes the 1 ms server delay" % r["mode"])
            check(r["rss_kb"] > 0 and r["cpu_s"] > 0, "%s: RSS and CPU measured" % r["mode"])
        limit = 1000  # the spawned server's --max-streams default
        check(1 <= by["h2c"]["dials"] <= math.ceil(CONC / limit),
              "h2c dials %d <= ceil(C/limit)" % by["h2c"]["dials"])
        check(by["h1-default"]["dials"] >= 10 * by["h2c"]["dials"],
              "h1-default dials %d >= 10x h2c's" % by["h1-default"]["dials"])
        check(by["h1-default"]["time_wait"] > 0, "h1-default churn leaves TIME_WAIT sockets")
        check(by["h1-pool"]["dials"] <= CONC, "h1-pool dials at most one per caller")
        root = ET.parse(svg).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        check(root.tag == ns + "svg", "SVG root element")
        lines = root.findall(ns + "polyline")
        check(len(lines) == 3 and all(len(l.get("points").split()) >= 2 for l in lines),
              "SVG has one CDF curve per mode")


def test_stream_limit():
    # A server allowing 10 streams: C=50 calls need ceil(50/10) = 5 connections, not 50.
    rc, out, err = bench("--mode", "h2c", "--requests", str(REQUESTS // 2), "--concurrency",
                         str(CONC), "--warmup", "0", "--max-streams", "10", "--json",
                         timeout=120)
    check(rc == 0, "h2c against a 10-stream server runs (stderr %r)" % err)
    r = json_lines(out)[0]
    check(r["errors"] == 0 and 1 <= r["dials"] <= math.ceil(CONC / 10),
          "h2c dials %d <= ceil(%d/10), 0 errors" % (r["dials"], CONC))


def test_blocking_callers_and_table():
    n = REQUESTS // 2
    rc, out, err = bench("--mode", "h2c", "--callers", "blocking", "--requests", str(n),
                         "--concurrency", str(CONC), "--warmup", "0", "--json", timeout=120)
    check(rc == 0, "blocking callers run (stderr %r)" % err)
    rows = json_lines(out)
    check(len(rows) == 1 and rows[0]["mode"] == "h2c" and rows[0]["errors"] == 0
          and rows[0]["requests"] == n and rows[0]["dials"] == 1,
          "blocking callers: one h2c dial, 0 errors: %s" % out.strip())
    rc, out, err = bench("--mode", "h1-pool", "--requests", "300", "--concurrency", "20",
                         "--warmup", "0", "--no-progress", timeout=120)
    check(rc == 0 and "req/s" in out and "\nh1-pool " in out and "cold start" in out
          and "\r" not in out and "{" not in out, "human table on stdout")


def test_duration_and_plot_failure():
    import time
    t0 = time.time()
    rc, out, err = bench("--mode", "h2c", "--duration", "300ms", "--warmup", "100ms",
                         "--concurrency", "10", "--json", timeout=60)
    took = time.time() - t0
    rows = json_lines(out) if rc == 0 else []
    check(rc == 0 and len(rows) == 1 and rows[0]["requests"] > 0 and rows[0]["errors"] == 0,
          "a --duration run measures calls (stderr %r)" % err)
    check(took < 20, "a 300 ms run ends promptly (%.1f s)" % took)
    rc, out, err = bench("--mode", "h2c", "--requests", "50", "--concurrency", "10",
                         "--warmup", "0", "--json", "--plot", "/nonexistent-dir/x.svg",
                         timeout=60)
    check(rc == 1 and "cannot write /nonexistent-dir/x.svg" in err,
          "an unwritable --plot path: exit 1 with the cause (%r)" % err)


def main():
    test_help_and_bad_flags()
    test_unreachable_target()
    test_server_errors()
    test_silent_target()
    test_all_modes_dial_relation()
    test_stream_limit()
    test_blocking_callers_and_table()
    test_duration_and_plot_failure()


if __name__ == "__main__":
    main()
