"""kill -9 of the events-proxy mid-load, restarted on its port after 1 s: nothing acknowledged
lost, every event acknowledged after re-emits.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("kill-proxy")
check(r["re_emits"] > 0, "the reconcilers re-emitted what the crash failed (%d)" % r["re_emits"])
check(0 < r["recover_s"] < 10, "commits again within 10 s of the kill (%.2f s)" % r["recover_s"])
