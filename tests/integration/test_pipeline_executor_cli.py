"""hopwire executor end to end: --help, bad usage (exit 2 naming the flag), the --json shape,
exit 0 when every event is acknowledged, exit 1 when not.

ctest: RUN_SERIAL
ctest: TIMEOUT=300

The events-proxy is the fake one in test_pipeline_executor (`--serve`, 127.0.0.1:0), stopped
by pid; every executor run is bounded by --actions and --deadline and a subprocess timeout.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
import hoptest  # noqa: E402
from hoptest import check  # noqa: E402

CLI = hoptest.CLI
FAKE = os.path.join(os.environ.get("HOP_BUILD_DIR", "build"), "test_pipeline_executor")
KEYS = ["actions", "events", "acknowledged", "events_per_s", "p50_us", "p90_us", "p99_us",
        "max_us", "rpcs", "dials", "errors", "re_emits", "cpu_s", "rss_kib"]


def executor(*args, timeout=120):
    p = subprocess.run([CLI, "executor", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_help_and_usage():
    rc, out, _ = executor("--help")
    for flag in ["--target", "--actions", "--concurrency", "--batch", "--batch-delay",
                 "--no-batch", "--policy", "--http", "--json", "--deadline", "--reconcilers"]:
        check(rc == 0 and flag in out, "--help documents %s" % flag)
    for args, flag in [([], "--target"),
                       (["--target", "ftp://x"], "--target"),
                       (["--target", "http://127.0.0.1:1", "--actions", "x"], "--actions"),
                       (["--target", "http://127.0.0.1:1", "--concurrency", "0"], "--concurrency"),
                       (["--target", "http://127.0.0.1:1", "--policy", "nagle"], "--policy"),
                       (["--target", "http://127.0.0.1:1", "--http", "h3"], "--http"),
                       (["--target", "http://127.0.0.1:1", "--batch-delay", "soon"], "--batch-delay"),
                       (["--target", "http://127.0.0.1:1", "--bogus"], "--bogus"),
                       (["--target"], "--target")]:
        rc, out, err = executor(*args, timeout=10)
        check(rc == 2 and flag in err and out == "",
              "bad usage %s: exit 2 naming %s (%r)" % (args, flag, err.strip()))


def test_json_and_exit_codes():
    fake = hoptest.Proc([FAKE, "--serve"])
    try:
        target = "http://127.0.0.1:%d" % fake.port
        for extra in [[], ["--policy", "flyte", "--batch-delay", "2ms", "--http", "h1-pool"],
                      ["--no-batch", "--http", "h1-default", "--concurrency", "8"]]:
            rc, out, err = executor("--target", target, "--actions", "200", "--json",
                                    "--deadline", "60s", *extra)
            lines = out.strip().splitlines()
            check(rc == 0 and len(lines) == 1, "%s: exit 0, one line on stdout (%r)" % (extra, err))
            obj = json.loads(lines[0])
            check(all(k in obj for k in KEYS), "%s: JSON has every key: %s" % (extra, obj))
            check(obj["actions"] == 200 and obj["events"] >= 800 and
                  obj["acknowledged"] == obj["events"] and obj["errors"] == 0,
                  "%s: every event acknowledged (%d/%d)" % (extra, obj["acknowledged"],
                                                            obj["events"]))
            if "--no-batch" in extra:
                check(obj["rpcs"] == obj["events"], "--no-batch: one Record per event")
            else:
                check(obj["rpcs"] < obj["events"], "%s: batches carry several events" % extra)
        rc, out, _ = executor("--target", target, "--actions", "20", timeout=60)
        check(rc == 0 and "| events |" in out and "acknowledged" in out, "the table report")
    finally:
        check(fake.stop() == 0, "the fake proxy exits cleanly on SIGTERM")

    fake = hoptest.Proc([FAKE, "--serve", "--fail-first", "3"])
    try:
        rc, out, _ = executor("--target", "http://127.0.0.1:%d" % fake.port, "--actions", "50",
                              "--json", "--deadline", "60s")
        obj = json.loads(out)
        check(rc == 0 and obj["re_emits"] >= 3 and obj["acknowledged"] == obj["events"],
              "failed Records are re-emitted until acknowledged: %s" % obj)
    finally:
        fake.stop()

    port = hoptest.free_port()  # nobody listens there
    rc, out, err = executor("--target", "http://127.0.0.1:%d" % port, "--actions", "5",
                            "--concurrency", "2", "--json", "--deadline", "1s", "--timeout", "1s",
                            timeout=60)
    obj = json.loads(out)
    check(rc == 1 and obj["acknowledged"] == 0 and obj["errors"] >= 1 and "not acknowledged" in err,
          "an unreachable proxy: exit 1 after the deadline (%s)" % err.strip())


def main():
    test_help_and_usage()
    test_json_and_exit_codes()


if __name__ == "__main__":
    main()
