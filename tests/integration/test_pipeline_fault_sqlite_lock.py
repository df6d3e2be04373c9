"""An external sqlite3 shell holds SQLite's write lock (BEGIN IMMEDIATE) for 2 s under load: the
run-service waits its busy timeout (250 ms), answers in-band naming the lock, recovers after.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("sqlite-lock")
check(r["probe_code"] in (13, 14) and "locked" in r["probe_message"],
      "in-band error naming the lock (%d %r)" % (r["probe_code"], r["probe_message"]))
check(200 <= r["probe_ms"] <= 1750, "bounded wait: %.0f ms for a 250 ms busy timeout" % r["probe_ms"])
