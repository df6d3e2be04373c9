"""hopwire demo, short runs: every design completes with lost = 0 and rows = acknowledged, the
table and the JSON shape, the dials relation (design 2 and later: 1 dial per hop at 64
reconcilers; design 1 churns HTTP/1.1 connections), the SVG, the low-load latency of the
adaptive batcher against Flyte's 25 ms wait, bad usage.
ctest: RUN_SERIAL TIMEOUT=400"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hoptest import CLI, SANITIZE, check  # noqa: E402

actions = "60" if SANITIZE else "300"

# JSON: one object per design per line.
p = subprocess.run([CLI, "demo", "--actions", actions, "--concurrency", "64", "--json",
                    "--seed", "42"], capture_output=True, timeout=300)
check(p.returncode == 0, "demo --json exits 0 (%r)" % p.stderr[-400:])
rows = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
check([r["design"] for r in rows] == [1, 2, 3, 4, 5], "five designs, in order")
keys = ["design", "name", "events", "acknowledged", "events_per_s", "p50_us", "p99_us", "rpcs",
        "dials_executor_proxy", "dials_proxy_run_service", "time_wait", "rows", "duplicates",
        "lost", "cpu_s"]
for r in rows:
    check(all(k in r for k in keys), "design %d: every key (%s)" % (r["design"], sorted(r)))
    check(r["lost"] == 0 and r["rows"] == r["acknowledged"] == r["events"] > 0,
          "design %d: %d events, %d acknowledged, %d rows, %d lost" %
          (r["design"], r["events"], r["acknowledged"], r["rows"], r["lost"]))
    check(r["events_per_s"] > 0 and r["p99_us"] >= r["p50_us"] > 0, "design %d: rate and latency" % r["design"])
d = {r["design"]: r for r in rows}
check(d[1]["rpcs"] == d[1]["events"] and d[2]["rpcs"] == d[2]["events"],
      "designs 1-2: one Record per event")
check(d[3]["rpcs"] < d[3]["events"] / 10 and d[5]["rpcs"] < d[5]["events"] / 4,
      "designs 3-5 batch (%d, %d RPCs for %d events)" % (d[3]["rpcs"], d[5]["rpcs"], d[5]["events"]))
check(d[1]["dials_executor_proxy"] > 10 and d[1]["dials_proxy_run_service"] > 10,
      "design 1 churns HTTP/1.1 connections (%d, %d dials)" %
      (d[1]["dials_executor_proxy"], d[1]["dials_proxy_run_service"]))
for n in (2, 4, 5):
    check(d[n]["dials_executor_proxy"] == 1 and d[n]["dials_proxy_run_service"] == 1,
          "design %d: 1 dial per hop (%d, %d)" % (n, d[n]["dials_executor_proxy"], d[n]["dials_proxy_run_service"]))

# The table and the plot.
svg = os.path.join(tempfile.mkdtemp(prefix="hop-demo-"), "demo.svg")
p = subprocess.run([CLI, "demo", "--actions", "40", "--concurrency", "16", "--designs", "1,5",
                    "--plot", svg], capture_output=True, timeout=200)
out = p.stdout.decode()
check(p.returncode == 0, "demo table exits 0 (%r)" % p.stderr[-300:])
check("events/s" in out and "lost" in out and "per-event, HTTP/1.1" in out and
      "hopwire: adaptive" in out and "Flyte batcher" not in out, "table: the chosen designs and columns")
check(open(svg).read().startswith("<?xml") and "</svg>" in open(svg).read(), "SVG written")

# Low load: one reconciler. Flyte's batcher waits its 25 ms; the adaptive one does not.
p = subprocess.run([CLI, "demo", "--actions", "10", "--concurrency", "1", "--designs", "4,5",
                    "--json"], capture_output=True, timeout=200)
check(p.returncode == 0, "low-load demo exits 0")
lo = {r["design"]: r for r in (json.loads(x) for x in p.stdout.decode().splitlines() if x.strip())}
check(lo[4]["p50_us"] >= 25000, "design 4 at concurrency 1: p50 %.1f ms >= 25 ms" % (lo[4]["p50_us"] / 1e3))
check(lo[5]["p50_us"] < lo[4]["p50_us"] / 2,
      "design 5 at concurrency 1: p50 %.1f ms, well under design 4's" % (lo[5]["p50_us"] / 1e3))

# Bad usage.
for args, what in ((["--designs", "7"], "--designs"), (["--actions", "x"], "--actions"),
                   (["--store", "mysql://x"], "--store"), (["--bogus"], "--bogus")):
    p = subprocess.run([CLI, "demo"] + args, capture_output=True, timeout=20)
    check(p.returncode == 2 and what.encode() in p.stderr, "bad usage %s -> exit 2 naming it" % args)
p = subprocess.run([CLI, "demo", "--help"], capture_output=True, timeout=20)
check(p.returncode == 0 and b"--concurrency" in p.stdout, "--help")
print("all demo checks passed")
