"""Durability: the run-service SIGKILLs itself right after COMMIT returned, before answering
(HOP_TEST_KILL_AT_COMMIT=N:after): committed-but-unanswered events are re-emitted and absorbed as
duplicates; every acknowledged event is in the reopened store.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("crash-after-commit")
check(r["exit_status"] == 137, "the run-service died by SIGKILL (%d)" % r["exit_status"])
check(r["re_emits"] > 0, "the unanswered events were re-emitted (%d)" % r["re_emits"])
