"""hopwire pipeline-bench --mode codec: the deterministic CPU-per-event measurement
(docs/pipeline.md, "CPU per event"). Its bodies are pinned by their digest (seed 1, a fixed
clock), so the events the executor would send have not changed by a byte; the decoded rows
match the generator's keys (the bench checks them and exits 1 otherwise); bad usage exits 2.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
import hoptest  # noqa: E402
from hoptest import check  # noqa: E402

CLI = hoptest.CLI


def bench(*args):
    p = subprocess.run([CLI, "pipeline-bench", "--mode", "codec", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def main():
    rc, out, err = bench("--events", "1000", "--json")
    check(rc == 0, "1000 events: exit 0 (%s)" % err.strip())
    obj = json.loads(out)
    check(obj["events"] == 1000 and obj["batch"] == 400 and obj["seed"] == 1,
          "the shape: %s" % obj)
    check(obj["body_bytes"] == 578795 and obj["digest"] == "faf103630d5bb4d3",
          "the bodies are byte for byte the pinned ones: %s" % obj)
    for k in ["generate_ns", "validate_ns", "decode_ns"]:
        check(obj[k] > 0, "%s reported: %s" % (k, obj))

    rc, out, err = bench("--events", "1001", "--batch", "7", "--seed", "5")
    check(rc == 0 and "1001 events (seed 5) in 7-event bodies" in out and
          "digest 9eea4c2ae94eef4f" in out, "a last short body, another seed: %s" % out)

    for args, flag in [(["--events", "0"], "--events"), (["--events", "x"], "--events"),
                       (["--mode", "fast"], "--mode")]:
        rc, _, err = bench(*args)
        check(rc == 2 and flag in err, "%s: exit 2 naming the flag (%s)" % (args, err.strip()))


if __name__ == "__main__":
    main()
