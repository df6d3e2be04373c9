"""GET /metrics on hopwire serve: the Prometheus text format (HELP and TYPE before each
family's samples, one sample per line), counters that move with the traffic."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hoptest import check, serve  # noqa: E402

srv = serve()
try:
    def scrape():
        p = subprocess.run(["curl", "-s", "-D", "-", "http://127.0.0.1:%d/metrics" % srv.port],
                           capture_output=True, timeout=10)
        head, _, body = p.stdout.decode().partition("\r\n\r\n")
        return head, body

    head, body = scrape()
    check(head.startswith("HTTP/1.1 200") and "text/plain; version=0.0.4" in head,
          "200 with the Prometheus content type")
    typed, values = set(), {}
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (\S+)$')
    ok = True
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line.startswith("# HELP ") or not line:
            continue
        else:
            m = sample.match(line)
            if not m or m.group(1) not in typed:
                ok = False
                print("bad line:", line)
                continue
            values[m.group(1) + (m.group(2) or "")] = float(m.group(4))
    check(ok and len(values) >= 10, "every sample well formed and typed (%d samples)" % len(values))
    before = values["hopwire_server_requests_total"]
    for _ in range(3):
        subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null",
                        "http://127.0.0.1:%d/healthz" % srv.port], timeout=10)
    _, body = scrape()
    after = float(re.search(r"^hopwire_server_requests_total (\S+)$", body, re.M).group(1))
    check(after >= before + 3, "requests counter moved by the 3 calls (%g -> %g)" % (before, after))
    check(re.search(r'^hopwire_server_connections_total [1-9]', body, re.M), "connections counted")
finally:
    srv.stop()
