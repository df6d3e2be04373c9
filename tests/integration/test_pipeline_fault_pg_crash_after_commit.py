"""Durability on PostgreSQL: the run-service (4 writer connections) SIGKILLs itself right after
a COMMIT returned, before answering (HOP_TEST_KILL_AT_COMMIT=N:after), on a throwaway
PostgreSQL 15 server: every acknowledged event is stored, the unanswered ones are re-emitted.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("crash-after-commit", extra=["--store", "postgres"])
check(r["store"].startswith("postgres"), "ran on PostgreSQL (%s)" % r["store"])
check(r["exit_status"] == 137, "the run-service died by SIGKILL (%d)" % r["exit_status"])
check(r["re_emits"] > 0, "the unanswered events were re-emitted (%d)" % r["re_emits"])
