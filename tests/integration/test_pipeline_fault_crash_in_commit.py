"""Durability, the default (SQLite WAL, synchronous=full): the run-service SIGKILLs itself from
sqlite3_commit_hook at a random commit (HOP_TEST_KILL_AT_COMMIT=N:hook), is restarted, and every
acknowledged event is in the reopened store.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("crash-in-commit")
check(r["exit_status"] == 137, "the run-service died by SIGKILL (%d)" % r["exit_status"])
check(r["kill_at_commit"] >= 3, "at commit %d" % r["kill_at_commit"])
