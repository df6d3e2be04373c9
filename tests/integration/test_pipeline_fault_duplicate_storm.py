"""The whole load, then the same events replayed 10 times: the rows are unchanged (count
and checksum of keys and payloads) and every replay is counted as duplicates.
ctest: TIMEOUT=300"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("duplicate-storm")
check(r["rows_before"] == r["rows_after"] == r["planned"],
      "rows unchanged: %d -> %d" % (r["rows_before"], r["rows_after"]))
check(r["duplicates"] >= 10 * r["planned"], "duplicates counted: %d >= 10 x %d" % (r["duplicates"], r["planned"]))
