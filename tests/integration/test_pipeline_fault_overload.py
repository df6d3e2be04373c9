"""A run-service whose commits are delayed so it stores a tenth of the inflow, its queue
capped at 50 rows: in-band resource_exhausted, the executor backs off and re-emits, RSS stays
bounded (vs the 1x run), and after the delay goes every event is acknowledged.
ctest: TIMEOUT=300
ctest: RUN_SERIAL"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("overload")
check(r["queue_full"] > 0 and r["re_emits"] > 0,
      "resource_exhausted answered (%d), re-emitted (%d)" % (r["queue_full"], r["re_emits"]))
x1, x10 = r["x1_rss_kib"], r["rss_kib"]
for k in ("proxy", "run_service"):
    check(x10[k] <= 2 * x1[k] + 32768, "%s RSS bounded at 10x: %d KiB (1x %d)" % (k, x10[k], x1[k]))
