"""Graceful restart under load: a replacement run-service binds the same port, SIGTERM to
the old one: its in-flight batches are committed and answered (exit 0), new calls go to the
replacement; 0 lost, 0 failed reconciles.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("sigterm-run-service")
check(r["exit_status"] == 0, "the old run-service drained and exited 0 (%d)" % r["exit_status"])
check(r["recover_s"] < 10, "drained within its 10 s bound (%.2f s)" % r["recover_s"])
check(r["goaways"] >= 1, "the proxy got GOAWAY from the draining instance (%d)" % r["goaways"])
check(r["errors"] == 0, "no Record failed across the graceful restart (%d)" % r["errors"])
