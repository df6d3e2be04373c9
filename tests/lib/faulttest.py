"""Runs one `hopwire fault-bench` scenario with small counts (smaller under sanitizers) and
asserts the pipeline's promise on its JSON figures: lost = 0, every event acknowledged (no
failed reconcile), rows = acknowledged (each stored once), no Record waited past its
deadline; the caller adds the scenario's own checks."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hoptest import CLI, check  # noqa: E402

SANITIZE = os.environ.get("HOP_SANITIZE", "0") not in ("", "0", "OFF", "FALSE", "false")


def run(fault, actions=None, extra=(), timeout=240):
    if actions is None:
        actions = 300 if SANITIZE else 1000
    args = [CLI, "fault-bench", "--fault", fault, "--actions", str(actions), "--json"] + list(extra)
    p = subprocess.run(args, capture_output=True, timeout=timeout)
    sys.stderr.write(p.stderr.decode(errors="replace"))
    lines = [l for l in p.stdout.decode().splitlines() if l.startswith("{")]
    check(len(lines) == 1, "%s: one JSON line (exit %d, %r)" % (fault, p.returncode, p.stdout[-300:]))
    r = json.loads(lines[0])
    print(json.dumps(r))
    if "skipped" in r:
        print("SKIP %s: %s" % (fault, r["skipped"]))
        sys.exit(0)
    check(r["lost"] == 0, "%s: lost = 0 (%d acknowledged events missing)" % (fault, r["lost"]))
    check(r["acknowledged"] == r["planned"] and r["failed_reconciles"] == 0,
          "%s: every event acknowledged (%d of %d)" % (fault, r["acknowledged"], r["planned"]))
    check(r["rows"] == r["acknowledged"] and r["rows_twice"] == 0,
          "%s: rows = acknowledged, each once (%d rows)" % (fault, r["rows"]))
    check(r["max_wait_ms"] <= 6000, "%s: no Record waited past its 5 s deadline (%.0f ms)"
          % (fault, r["max_wait_ms"]))
    check(r["pass"] and p.returncode == 0, "%s: the bench's own checks pass (%s)" % (fault, r["why"]))
    return r
