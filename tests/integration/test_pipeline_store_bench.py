"""hopwire store-bench end to end on SQLite: --help documents every flag, bad values exit 2, a
bad URL exits 1, a bounded run (--batches) stores exactly what it says, in JSON and as text.

ctest: RUN_SERIAL
ctest: TIMEOUT=120

Then the same against a throwaway PostgreSQL 15 (tests/lib/pgtest.py): --writers and
--notify, rows counted with psql, and a server that is down answers exit 1 with the cause.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
import hoptest  # noqa: E402
import pgtest  # noqa: E402
from hoptest import check  # noqa: E402

CLI = hoptest.CLI
FLAGS = ["--store", "--batch", "--callers", "--batches", "--duration", "--group-commit",
         "--writers", "--notify", "--sync", "--row-bytes", "--max-txn-rows", "--json", "--help"]


def run(*args, timeout=60):
    p = subprocess.run([CLI, "store-bench", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_help_and_bad_flags():
    rc, out, _ = run("--help")
    check(rc == 0, "--help exits 0")
    for f in FLAGS:
        check(f in out, "--help documents %s" % f)
    for bad in (["--batch", "0"], ["--callers", "x"], ["--group-commit", "maybe"],
                ["--sync", "fast"], ["--duration", "soon"], ["--bogus"], ["--batch"]):
        rc, _, err = run(*bad)
        check(rc == 2, "%s exits 2 (got %d)" % (bad, rc))
        check("hopwire store-bench:" in err, "%s names the problem: %s" % (bad, err))
    rc, _, err = run("--store", "mysql://localhost/x", "--batches", "1")
    check(rc == 1 and "expected sqlite:PATH" in err, "a bad URL exits 1 with the cause: %s" % err)


def test_bounded_runs():
    with tempfile.TemporaryDirectory(prefix="hop-store-bench-") as d:
        db = os.path.join(d, "b.db")
        for gc, sync in (("on", "full"), ("off", "off")):
            rc, out, err = run("--store", "sqlite:" + db, "--batches", "30", "--callers", "3",
                               "--batch", "40", "--row-bytes", "100", "--group-commit", gc,
                               "--sync", sync, "--json")
            check(rc == 0, "bounded run exits 0: %s" % err)
            r = json.loads(out)
            check(r["engine"] == "sqlite" and r["synchronous"] == sync.upper(), "engine: %s" % out)
            check(r["batches"] == 30 and r["events"] == 1200, "30 batches, 1200 rows: %s" % out)
            check(r["failed_batches"] == 0 and r["duplicates"] == 0, "no failures: %s" % out)
            check(r["group_commit"] == (gc == "on"), "group commit flag echoed: %s" % out)
            if gc == "off":
                check(r["commits"] == 30, "one transaction per batch: %s" % out)
            else:
                check(1 <= r["commits"] <= 30, "commits within 1..30: %s" % out)
            check(r["events_per_s"] > 0 and r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"],
                  "figures are set: %s" % out)
        # Both runs went into the same file with distinct keys: 2400 rows of 100-byte info.
        con = sqlite3.connect(db)
        n, size = con.execute("SELECT count(*), max(length(info)) FROM action_events").fetchone()
        con.close()
        check(n == 2400 and size == 100, "the file holds both runs: %d rows, info %s" % (n, size))
        rc, out, err = run("--store", "sqlite:" + db, "--batches", "4", "--callers", "2",
                           "--batch", "10")
        check(rc == 0, "text report exits 0: %s" % err)
        for label in ("events/s", "commits/s", "batch latency p50", "p99"):
            check(label in out, "text report shows %s: %s" % (label, out))
    # Default store: a temp SQLite file, removed afterwards.
    rc, out, err = run("--batches", "2", "--callers", "1", "--batch", "5", "--json")
    check(rc == 0 and json.loads(out)["events"] == 10, "default temp store: %s %s" % (out, err))


def test_postgres():
    pg = pgtest.Server()
    try:
        for writers, gc, notify in (("4", "on", "on"), ("1", "off", "off")):
            rc, out, err = run("--store", pg.url, "--batches", "20", "--callers", "4", "--batch",
                               "50", "--writers", writers, "--group-commit", gc, "--notify",
                               notify, "--json")
            check(rc == 0, "postgres run exits 0: %s" % err)
            r = json.loads(out)
            check(r["engine"] == "postgres" and r["writers"] == int(writers),
                  "engine and writers echoed: %s" % out)
            check(r["notify"] == (notify == "on"), "notify echoed: %s" % out)
            check(r["events"] == 1000 and r["failed_batches"] == 0, "1000 rows stored: %s" % out)
            if gc == "off":
                check(r["commits"] == 20, "one transaction per batch: %s" % out)
        check(pg.psql("SELECT count(*) FROM action_events") == "2000", "psql counts 2000 rows")
        check(pg.psql("SELECT count(DISTINCT run_name) FROM action_events") == "40",
              "one run per batch")
        check(pg.terminate("hopwire-store-%") == 0, "no store connection left behind")
        check(pg.stop("fast"), "pg_ctl stop -m fast")
        rc, _, err = run("--store", pg.url, "--batches", "1")
        check(rc == 1 and "cannot connect to the database" in err,
              "a stopped server: exit 1 with the cause: %s" % err)
        check(pg.resume(), "pg_ctl start again")
        rc, out, err = run("--store", pg.url, "--batches", "2", "--batch", "5", "--json")
        check(rc == 0 and json.loads(out)["events"] == 10, "works after the restart: %s" % err)
    finally:
        pg.destroy()
    check(not os.path.exists(pg.dir), "the server's temp dir is removed")


def main():
    test_help_and_bad_flags()
    test_bounded_runs()
    test_postgres()


if __name__ == "__main__":
    main()
