"""SQLite on a 1 MiB tmpfs under executor load: in-band error naming SQLITE_FULL, the
transaction rolled back (nothing of it stored, re-emitted later), PRAGMA integrity_check ok,
recovery once the tmpfs grows. Needs root (a private mount namespace).
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("sqlite-disk-full")
check(r["probe_code"] in (8, 13) and "full" in r["probe_message"].lower(),
      "in-band error naming the full disk (%d %r)" % (r["probe_code"], r["probe_message"]))
check(r["integrity"] == "ok", "PRAGMA integrity_check: %r" % r["integrity"])
check(r["errors"] > 0 and r["re_emits"] > 0, "Records failed while full and were re-emitted (%d)" % r["re_emits"])
check(r["probe_stored"] == 0, "the failed 400-event transaction rolled back: %d of its rows stored"
      % r["probe_stored"])
