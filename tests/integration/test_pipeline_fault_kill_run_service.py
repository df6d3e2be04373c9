"""kill -9 of the run-service mid-load, restarted on its port after 1 s: every acknowledged
event stored once, every event eventually acknowledged (re-emits), no Record past its deadline.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("kill-run-service")
check(r["re_emits"] > 0, "the reconcilers re-emitted what the crash failed (%d)" % r["re_emits"])
check(0 < r["recover_s"] < 10, "commits again within 10 s of the kill (%.2f s)" % r["recover_s"])

# usage: an unknown fault or option is exit 2, --help lists every fault
import subprocess  # noqa: E402
from hoptest import CLI  # noqa: E402
for bad in (["--fault", "nope"], ["--actions", "0"], ["--bogus"], ["--store", "sqlite:x"]):
    p = subprocess.run([CLI, "fault-bench"] + bad, capture_output=True, timeout=20)
    check(p.returncode == 2, "fault-bench %s: exit 2 (%d)" % (" ".join(bad), p.returncode))
p = subprocess.run([CLI, "fault-bench", "--help"], capture_output=True, timeout=20)
check(p.returncode == 0 and all(f.encode() in p.stdout for f in (
    "kill-run-service", "kill-proxy", "pg-restart-immediate", "pg-restart-fast", "pg-terminate",
    "sqlite-disk-full", "sqlite-lock", "sigterm-run-service", "scale-out", "duplicate-storm",
    "overload", "crash-in-commit", "crash-after-commit")), "fault-bench --help lists the faults")
