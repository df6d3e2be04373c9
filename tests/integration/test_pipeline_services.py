"""run-service and events-proxy end to end on SQLite, with curl (h2c and HTTP/1.1) and
`hopwire call` (gRPC, gRPC-Web) as clients and python3-protobuf building the messages:
storage (every row once, info byte-exact, error_kind), first write wins, Flyte's result
mapping on both hops, bad input (each with its precise error, nothing stored, the service
still serving), the proxy with its run-service down and back, an in-band failure (the
database locked by another process), /metrics, `hopwire events`, SIGTERM drain.
ctest: TIMEOUT=300"""
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import flyteproto as fp  # noqa: E402
from hoptest import CLI, Proc, check  # noqa: E402

tmp = tempfile.mkdtemp(prefix="hop-pipeline-")
db = os.path.join(tmp, "events.db")
procs = []


def start(args):
    p = Proc(args)
    procs.append(p)
    return p


def rows(where=""):
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute("SELECT project, domain, run_name, name, attempt, phase, version, "
                           "info, error_kind FROM action_events " + where +
                           " ORDER BY run_name, name, attempt, phase, version").fetchall()
    finally:
        con.close()


def status_of(body):
    r = fp.RecordActionEventsResponse()
    r.ParseFromString(body)
    return r.status.code, r.status.message


try:
    rs = start([CLI, "run-service", "--listen", "127.0.0.1:0", "--store", "sqlite:" + db,
                "--threads", "2", "--busy-timeout", "300ms"])
    px = start([CLI, "events-proxy", "--listen", "127.0.0.1:0", "--run-service",
                "http://127.0.0.1:%d" % rs.port, "--threads", "2"])

    # --- the happy path through both hops, Connect proto over h2c ---
    evs = [fp.event(run="r1", action="a%d" % i, phase="RUNNING") for i in range(3)]
    evs.append(fp.event(run="r1", action="a9", phase="FAILED", error_kind=1))
    evs.append(fp.event(run="r1", action="a8", phase="FAILED", error_kind=2))
    st, body = fp.connect_post(px.port, fp.RECORD, fp.record_request(evs))
    check(st == 200 and body == b"", "proxy Record: 200 with an empty RecordResponse (%d %r)" % (st, body[:80]))
    got = rows("WHERE run_name = 'r1'")
    check(len(got) == 5, "5 rows stored (%d)" % len(got))
    byname = {r[3]: r for r in got}
    for e in evs:
        r = byname[e.id.name]
        check(r[7] == e.SerializeToString(), "info of %s byte-exact" % e.id.name)
        check(r[:7] == fp.key(e), "key columns of %s" % e.id.name)
    check(byname["a9"][8] == "KIND_USER" and byname["a8"][8] == "KIND_SYSTEM"
          and byname["a0"][8] is None, "error_kind: KIND_USER, KIND_SYSTEM, NULL without error_info")

    # --- the run-service directly: in-band status 0; 0 events ---
    one = fp.event(run="r2", action="b0")
    st, body = fp.connect_post(rs.port, fp.RECORD_ACTION_EVENTS, fp.record_request([one]))
    check(st == 200 and status_of(body) == (0, ""), "run-service: status code 0 (%d %r)" % (st, body))
    st, body = fp.connect_post(rs.port, fp.RECORD_ACTION_EVENTS, b"")
    check(st == 200 and status_of(body)[0] == 0, "run-service: 0 events is success")
    st, body = fp.connect_post(px.port, fp.RECORD, b"")
    check(st == 200 and body == b"", "proxy: 0 events is OK")

    # --- duplicates: within a batch, across batches, first write wins ---
    first = fp.event(run="r3", action="c0", marker="-first")
    second = fp.event(run="r3", action="c0", marker="-second")
    st, _ = fp.connect_post(px.port, fp.RECORD, fp.record_request([first, first]))
    check(st == 200, "duplicate within a batch accepted")
    st, _ = fp.connect_post(px.port, fp.RECORD, fp.record_request([second]))
    check(st == 200, "same key with another payload accepted")
    got = rows("WHERE run_name = 'r3'")
    check(len(got) == 1 and got[0][7] == first.SerializeToString(),
          "first write wins: one row, the first payload")

    # --- JSON on both hops ---
    from google.protobuf import json_format
    jreq = fp.RecordRequest()
    jreq.events.add().CopyFrom(fp.event(run="r4", action="j0", phase="SUCCEEDED"))
    st, body = fp.connect_post(px.port, fp.RECORD, json_format.MessageToJson(jreq).encode(),
                               content_type="application/json")
    check(st == 200 and json.loads(body) == {}, "proxy JSON: 200 {} (%d %r)" % (st, body[:100]))
    st, body = fp.connect_post(rs.port, fp.RECORD_ACTION_EVENTS,
                               json_format.MessageToJson(jreq).encode(), content_type="application/json")
    check(st == 200 and json.loads(body).get("status", {}).get("code", 0) == 0,
          "run-service JSON: status code 0 (%r)" % body[:100])
    check(len(rows("WHERE run_name = 'r4'")) == 1, "JSON event stored once")

    # --- gRPC and gRPC-Web through `hopwire call` ---
    reqfile = os.path.join(tmp, "req.bin")
    with open(reqfile, "wb") as f:
        f.write(fp.record_request([fp.event(run="r5", action="g0")]))
    for proto in ("grpc", "grpc-web"):
        p = subprocess.run([CLI, "call", "http://127.0.0.1:%d%s" % (px.port, fp.RECORD), "--proto",
                            "--protocol", proto, "-d", "@" + reqfile], capture_output=True, timeout=20)
        check(p.returncode == 0, "%s Record through the proxy: exit 0 (%r)" % (proto, p.stderr[-200:]))
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--http1.1",
                        "-H", "content-type: application/proto", "--data-binary", "@" + reqfile,
                        "http://127.0.0.1:%d%s" % (px.port, fp.RECORD)], capture_output=True, timeout=20)
    check(p.stdout == b"200", "Connect over HTTP/1.1 to the proxy: 200")
    check(len(rows("WHERE run_name = 'r5'")) == 1, "gRPC / gRPC-Web / HTTP/1.1 replays stored once")

    # --- bad input: precise errors, nothing stored, still serving ---
    good = fp.record_request([fp.event(run="bad", action="x0")])
    bad_utf8 = fp.event(run="bad", action="x1").SerializeToString().replace(b"x1", b"\xff\xfe")
    cases = [
        ("truncated protobuf", good[:-7], "invalid_argument"),
        ("wrong wire type for events (varint)", b"\x08\x01", "invalid_argument"),
        ("wrong wire type inside an event (attempt as bytes)",
         b"\x0a\x04" + b"\x12\x02\x00\x00", "invalid_argument"),
        ("invalid UTF-8 in an action name",
         b"\x0a" + fp.varint(len(bad_utf8)) + bad_utf8, "invalid_argument"),
    ]
    for port, path in ((rs.port, fp.RECORD_ACTION_EVENTS), (px.port, fp.RECORD)):
        for what, body, code in cases:
            st, out = fp.connect_post(port, path, body)
            err = json.loads(out) if out.startswith(b"{") else {}
            check(st == 400 and err.get("code") == code,
                  "%s on :%d -> %d %s (%r)" % (what, port, st, code, out[:160]))
    bomb = gzip.compress(b"\x00" * (80 * 1024 * 1024))
    st, out = fp.connect_post(rs.port, fp.RECORD_ACTION_EVENTS, bomb, extra=["content-encoding: gzip"])
    check(st in (400, 413, 429) and b"resource_exhausted" in out,
          "gzip bomb (80 MiB inflated) refused: %d %r" % (st, out[:120]))
    st, out = fp.connect_post(rs.port, fp.RECORD_ACTION_EVENTS, good, content_type="text/plain")
    check(st == 415, "non-proto content type -> 415 (%d)" % st)
    check(rows("WHERE run_name = 'bad'") == [], "nothing of the bad requests stored")
    st, body = fp.connect_post(px.port, fp.RECORD, good)
    check(st == 200 and len(rows("WHERE run_name = 'bad'")) == 1, "still serving after bad input")

    # --- oversize message: a run-service with a 64 KiB message cap ---
    small = start([CLI, "run-service", "--listen", "127.0.0.1:0", "--store",
                   "sqlite:" + os.path.join(tmp, "small.db"), "--max-message", "64k"])
    big = fp.record_request([fp.event(run="big", action="o%d" % i) for i in range(300)])
    st, out = fp.connect_post(small.port, fp.RECORD_ACTION_EVENTS, big)
    check(st in (413, 429) or b"resource_exhausted" in out,
          "oversize message (%d B > 64 KiB) refused: %d %r" % (len(big), st, out[:100]))

    # --- in-band failure: another process holds the write lock ---
    locker = subprocess.Popen(["sqlite3", db], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    locker.stdin.write(b"PRAGMA busy_timeout=1; BEGIN IMMEDIATE; INSERT INTO action_events "
                       b"(project, domain, run_name, name, attempt, phase, version) VALUES "
                       b"('lock','lock','lock','lock',1,1,0);\n")
    locker.stdin.flush()
    time.sleep(0.5)
    st, body = fp.connect_post(rs.port, fp.RECORD_ACTION_EVENTS,
                               fp.record_request([fp.event(run="locked", action="l0")]))
    code, msg = status_of(body) if st == 200 else (None, "")
    check(st == 200 and code in (13, 14) and "locked" in msg.lower(),
          "run-service in-band error (13/14) naming the lock (%d %r %r)" % (st, code, msg))
    st, out = fp.connect_post(px.port, fp.RECORD, fp.record_request([fp.event(run="locked", action="l1")]))
    err = json.loads(out) if out.startswith(b"{") else {}
    check(st == 500 and err.get("code") == "internal" and
          err.get("message", "").startswith("run service failed: "),
          "proxy maps the in-band failure to internal 'run service failed: ...' (%r)" % out[:200])
    locker.stdin.write(b"ROLLBACK;\n.quit\n")
    locker.stdin.close()
    locker.wait(10)
    st, _ = fp.connect_post(px.port, fp.RECORD, fp.record_request([fp.event(run="locked", action="l1")]))
    check(st == 200 and len(rows("WHERE run_name = 'locked'")) == 1,
          "recovered after the lock is released; the failed batch stored nothing")

    # --- the proxy with its run-service down, then back on the same port ---
    port = rs.port
    check(rs.stop() == 0, "run-service drains on SIGTERM and exits 0")
    st, out = fp.connect_post(px.port, fp.RECORD, fp.record_request([fp.event(run="down", action="d0")]))
    err = json.loads(out) if out.startswith(b"{") else {}
    check(st == 500 and err.get("code") == "internal" and "run service call failed" in err.get("message", ""),
          "run-service down -> internal (%d %r)" % (st, out[:160]))
    rs = start([CLI, "run-service", "--listen", "127.0.0.1:%d" % port, "--store", "sqlite:" + db])
    ok = False
    for _ in range(50):
        st, _ = fp.connect_post(px.port, fp.RECORD, fp.record_request([fp.event(run="down", action="d0")]))
        if st == 200:
            ok = True
            break
        time.sleep(0.1)
    check(ok and len(rows("WHERE run_name = 'down'")) == 1, "success once the run-service is back")
    st, _ = fp.connect_post(px.port, fp.RECORD, fp.record_request([fp.event(run="down", action="d0")]))
    check(st == 200 and len(rows("WHERE run_name = 'down'")) == 1, "a replay is acknowledged, stored once")

    # --- /metrics ---
    def metrics(port):
        p = subprocess.run(["curl", "-s", "http://127.0.0.1:%d/metrics" % port], capture_output=True, timeout=10)
        vals = {}
        for line in p.stdout.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, v = line.rpartition(" ")
                vals[name] = float(v)
        return vals
    m = metrics(px.port)
    check(m.get('hopwire_proxy_requests_total{result="ok"}', 0) >= 8, "proxy /metrics: ok requests counted")
    check(m.get('hopwire_proxy_requests_total{result="invalid_argument"}', 0) == 4, "proxy /metrics: 4 invalid")
    check(m.get("hopwire_proxy_downstream_dials_total", 0) >= 1, "proxy /metrics: downstream dials")
    m = metrics(rs.port)
    check(m.get("hopwire_store_rows_inserted_total", -1) == 1 and
          m.get('hopwire_runsvc_requests_total{result="ok"}', 0) == 2,
          "run-service /metrics after restart: 2 ok requests, 1 row inserted")
    check(m.get("hopwire_store_duplicates_total", 0) == 1, "run-service /metrics: the replay counted as a duplicate")
    check("hopwire_store_commit_seconds_count" in m, "run-service /metrics: commit latency histogram")

    # --- 100,000 events in one call: chunked under the parameter limit, one transaction ---
    txns0 = metrics(rs.port).get("hopwire_store_transactions_total", 0)
    big = fp.RecordActionEventsRequest()
    for i in range(100000):
        e = big.events.add()
        e.id.run.project, e.id.run.domain, e.id.run.name = "proj", "development", "huge"
        e.id.name = "h%d" % i
        e.attempt, e.phase = 1, 4
    st, body = fp.connect_post(rs.port, fp.RECORD_ACTION_EVENTS, big.SerializeToString(), timeout=120)
    check(st == 200 and status_of(body)[0] == 0, "100,000-event call: status 0 (%d %r)" % (st, body[:100]))
    check(len(rows("WHERE run_name = 'huge'")) == 100000, "100,000 rows stored")
    m = metrics(rs.port)
    check(m.get("hopwire_store_transactions_total", 0) == txns0 + 1,
          "in one transaction (%g -> %g)" % (txns0, m.get("hopwire_store_transactions_total", 0)))

    # --- hopwire events reads it back ---
    p = subprocess.run([CLI, "events", "--store", "sqlite:" + db, "--run", "proj/development/r1", "--json"],
                       capture_output=True, timeout=20)
    lines = [json.loads(line) for line in p.stdout.decode().splitlines()]
    check(p.returncode == 0 and len(lines) == 5, "hopwire events --run: 5 events (%r)" % p.stderr[-200:])
    check([x["action"] for x in lines] == sorted(x["action"] for x in lines), "ordered by action")
    failed = [x for x in lines if x["action"] == "a9"][0]
    check(failed["error_kind"] == "KIND_USER" and failed["phase"] == "ACTION_PHASE_FAILED" and
          failed["event"]["errorInfo"]["kind"] == "KIND_USER", "decoded event with its error info")
    p = subprocess.run([CLI, "events", "--run", "nope"], capture_output=True, timeout=10)
    check(p.returncode == 2 and b"PROJECT/DOMAIN/RUN" in p.stderr, "bad --run -> exit 2 naming the format")
    p = subprocess.run([CLI, "run-service", "--listen", "127.0.0.1:0", "--store", "mysql://x"],
                       capture_output=True, timeout=10)
    check(p.returncode == 1 and b"mysql" in p.stderr, "unknown store scheme -> exit 1 naming it (%r)" % p.stderr)
    p = subprocess.run([CLI, "events-proxy", "--listen", "127.0.0.1:0"], capture_output=True, timeout=10)
    check(p.returncode == 2 and b"--run-service" in p.stderr, "proxy without --run-service -> exit 2")

    check(px.stop() == 0, "events-proxy drains on SIGTERM and exits 0")
finally:
    for p in procs:
        p.stop(signal.SIGKILL if p.p.poll() is None and False else signal.SIGTERM)
print("all pipeline service checks passed")
