"""Every client connection killed from the server side (pg_terminate_backend) mid-load: the
run-service reconnects and loses nothing.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("pg-terminate")
n = int(r["probe_message"].split()[0])
check(n >= 2, "the run-service's connections were terminated (%d)" % n)
check(r["recover_s"] < 15, "commits again within 15 s (%.2f s)" % r["recover_s"])
