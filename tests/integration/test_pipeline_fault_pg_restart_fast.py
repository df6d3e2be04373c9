"""PostgreSQL stopped with -m fast mid-load, 1 s down, started again: in-band 14 while down,
reconnect, nothing acknowledged lost.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("pg-restart-fast")
msg = r["probe_message"]
check(r["probe_code"] == 14 and msg.startswith("postgres: ") and ("unavailable" in msg or "connect" in msg),
      "in-band unavailable while the database is down (%d %r)" % (r["probe_code"], r["probe_message"]))
check(0 < r["recover_s"] < 15, "commits again within 15 s (%.2f s)" % r["recover_s"])
