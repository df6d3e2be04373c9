"""Three run-services behind one name (127.0.0.1-3 in a private /etc/hosts) sharing one store,
two events-proxies behind another, the run-services restarted one by one under load: 0 lost,
0 failed reconciles, every instance got load. Needs root.
ctest: TIMEOUT=300
ctest: RUN_SERIAL"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import faulttest as ft  # noqa: E402
from hoptest import check  # noqa: E402

r = ft.run("scale-out")
check(len(r["per_instance"]) == 3 and min(r["per_instance"]) > 0,
      "load spread over all three instances: %r" % r["per_instance"])
check(r["exit_status"] == 0, "every restarted instance drained and exited 0")
