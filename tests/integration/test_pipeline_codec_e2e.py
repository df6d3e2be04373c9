"""End to end through the codec with independent protobuf implementations on the sending side:
events built by @bufbuild/protobuf 1.10.1 and sent by @connectrpc/connect-node 1.7.0 (Connect
binary and JSON over h2c, Connect binary over HTTP/1.1, gRPC over h2c), and built by
python3-protobuf and sent by `curl --http2-prior-knowledge` (binary with unknown fields, and
MessageToJson as application/json) -> hopwire events-proxy -> hopwire run-service -> each
store: SQLite, then a throwaway PostgreSQL 15 (started here like tests/lib/pgtest.c does:
initdb as the unprivileged postgres user, 127.0.0.1 on a free port, stopped by its data dir
and postmaster PID). Every batch is sent twice. Then a direct query (`sqlite3 -json` /
`psql`) and `hopwire events --json` must see every event exactly once, `info` byte-exact
(hex), error_kind right, and the stored event's JSON must parse in python to the message
that was sent.
ctest: RUN_SERIAL
ctest: TIMEOUT=400"""
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import flyteproto as fp  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from hoptest import CLI, Proc, check  # noqa: E402

SRC = os.environ.get("HOP_SOURCE_DIR", ".")
BUILD = os.environ.get("HOP_BUILD_DIR", "build")
INTEROP = os.path.abspath(os.path.join(SRC, "tests", "interop"))
DESC = os.path.abspath(os.path.join(BUILD, "gen", "proto", "flyteidl2.pb"))
KIND = {0: "KIND_UNSPECIFIED", 1: "KIND_USER", 2: "KIND_SYSTEM"}
PHASE_NUM = {v.name: v.number
             for v in fp.ActionEvent.DESCRIPTOR.fields_by_name["phase"].enum_type.values}

PGBIN = os.environ.get("HOP_PGBIN", "/usr/lib/postgresql/15/bin")
tmp = tempfile.mkdtemp(prefix="hop-codec-e2e-")
procs = []


def start(args):
    p = Proc(args)
    procs.append(p)
    return p


def varint(n):
    return fp.varint(n)


def expect_of(e, info):
    kind = KIND.get(e.error_info.kind, str(e.error_info.kind)) if e.HasField("error_info") else None
    return {"key": list(fp.key(e)), "error_kind": kind, "info": info.hex()}


def python_events(run, rnd, n, unknown):
    evs = []
    for i in range(n):
        e = fp.event(project="proj-py", run=run, action="p%d" % i, attempt=1 + i % 3,
                     phase=["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"][i % 4], version=i % 2,
                     error_kind=(i % 3) if i % 4 == 3 else None, marker="-\u00e9%d" % i)
        if unknown and i % 2:
            txt = ("py-newer-%d" % i).encode()
            raw = e.SerializeToString() + varint(70 << 3 | 2) + varint(len(txt)) + txt \
                + varint(71 << 3 | 0) + varint(rnd.randrange(1 << 50)) \
                + varint(72 << 3 | 1) + bytes(rnd.randrange(256) for _ in range(8))
            e = fp.ActionEvent()
            e.ParseFromString(raw)
        evs.append(e)
    return evs


def node(url, run, protocol, http, codec, n):
    p = subprocess.run(["node", os.path.join(INTEROP, "events_client.mjs"), "--url", url,
                        "--descriptors", DESC, "--run", run, "--protocol", protocol, "--http", http,
                        "--codec", codec, "--events", str(n)],
                       capture_output=True, timeout=60, cwd=INTEROP)
    check(p.returncode == 0, "connect-node %s %s HTTP/%s: Record sent twice (rc %d: %s)"
          % (protocol, codec, http, p.returncode, p.stderr.decode(errors="replace")[-800:]))
    return [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]


class Postgres:
    """initdb + pg_ctl start into a temp dir (as `postgres` when root); destroy() stops it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hop-codec-pg-")
        self.data = os.path.join(self.dir, "data")
        self.user = None
        self.pid = 0
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(self.dir, 0o700)
        self.run([PGBIN + "/initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E",
                  "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"], 120)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"
                    "fsync = on\nshared_buffers = 32MB\nmax_connections = 40\n"
                    % (self.port, self.dir))
        self.run([PGBIN + "/pg_ctl", "-D", self.data, "-w", "-t", "30", "-l",
                  os.path.join(self.dir, "log"), "start"], 60)
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())
        self.url = "postgresql://postgres@127.0.0.1:%d/postgres" % self.port

    def run(self, argv, timeout):
        if self.user:
            argv = ["/usr/sbin/runuser", "-u", self.user, "--"] + argv
        p = subprocess.run(argv, capture_output=True, timeout=timeout, cwd=self.dir)
        if p.returncode != 0:
            raise RuntimeError("%s: %s %s" % (argv, p.stdout.decode(), p.stderr.decode()))
        return p.stdout.decode()

    def psql(self, sql):
        return subprocess.run(["psql", "-X", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", self.url,
                               "-c", sql], capture_output=True, timeout=60)

    def destroy(self):
        if self.pid:
            try:
                self.run([PGBIN + "/pg_ctl", "-D", self.data, "-w", "-t", "30", "-m", "fast",
                          "stop"], 60)
            except Exception:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            self.pid = 0
        shutil.rmtree(self.dir, ignore_errors=True)


def rows_sqlite(db):
    p = subprocess.run(["sqlite3", "-json", db,
                        "SELECT project, domain, run_name, name, attempt, phase, version, "
                        "hex(info) AS info, error_kind FROM action_events"],
                       capture_output=True, timeout=30)
    check(p.returncode == 0, "sqlite3 query (%s)" % p.stderr.decode(errors="replace"))
    return [((r["project"], r["domain"], r["run_name"], r["name"], r["attempt"], r["phase"],
              r["version"]), r["info"].lower(), r["error_kind"]) for r in json.loads(p.stdout or b"[]")]


def rows_pg(pg):
    # no '|' in any key the test sends; NULL error_kind prints as empty, COALESCE marks it
    p = pg.psql("SELECT project, domain, run_name, name, attempt, phase, version, "
                "encode(info, 'hex'), COALESCE(error_kind, '<null>') FROM action_events")
    check(p.returncode == 0, "psql query (%s)" % p.stderr.decode(errors="replace"))
    out = []
    for line in p.stdout.decode().splitlines():
        f = line.split("|")
        out.append(((f[0], f[1], f[2], f[3], int(f[4]), int(f[5]), int(f[6])), f[7],
                     None if f[8] == "<null>" else f[8]))
    return out


def suite(label, store, direct):
    """Both hops on |store|; every client; then the direct query and `hopwire events`."""
    rs = start([CLI, "run-service", "--listen", "127.0.0.1:0", "--store", store,
                "--threads", "2", "--writers", "2"])
    px = start([CLI, "events-proxy", "--listen", "127.0.0.1:0", "--run-service",
                "http://127.0.0.1:%d" % rs.port, "--threads", "2"])
    url = "http://127.0.0.1:%d" % px.port
    expected = []

    # --- connect-node: @bufbuild/protobuf messages, four protocol/codec/transport mixes ---
    for run, protocol, http, codec in (("n-connect-proto-h2", "connect", "2", "proto"),
                                       ("n-connect-json-h2", "connect", "2", "json"),
                                       ("n-connect-proto-h1", "connect", "1.1", "proto"),
                                       ("n-grpc-proto-h2", "grpc", "2", "proto")):
        expected += node(url, run, protocol, http, codec, 24)

    # --- curl over h2c: python3-protobuf messages, binary and JSON bodies ---
    rnd = random.Random(11)
    evs = python_events("c-binary", rnd, 30, unknown=True)
    body = fp.record_request(evs)
    for attempt in range(2):
        st, out = fp.connect_post(px.port, fp.RECORD, body)
        check(st == 200 and out == b"", "%s: curl binary Record #%d: 200, empty RecordResponse (%d %r)"
              % (label, attempt + 1, st, out[:200]))
    expected += [expect_of(e, e.SerializeToString()) for e in evs]

    evs = python_events("c-json", rnd, 30, unknown=False)
    req = fp.RecordRequest()
    for e in evs:
        req.events.add().CopyFrom(e)
    js = json_format.MessageToJson(req).encode()
    for attempt in range(2):
        st, out = fp.connect_post(px.port, fp.RECORD, js, content_type="application/json")
        check(st == 200 and json.loads(out or b"null") == {},
              "%s: curl JSON Record #%d: 200, {} (%d %r)" % (label, attempt + 1, st, out[:200]))
    expected += [expect_of(e, e.SerializeToString()) for e in evs]

    # a JSON body protojson refuses never reaches the store
    st, out = fp.connect_post(px.port, fp.RECORD, b'{"events":[{"id":{"name":"x"},"bogus":1}]}',
                              content_type="application/json")
    check(st == 400 and b"bogus" in out, "%s: curl JSON with an unknown field: 400 naming it (%d %r)"
          % (label, st, out[:200]))

    keys = [tuple(x["key"]) for x in expected]
    check(len(set(keys)) == len(keys), "%s: %d distinct events sent (each twice)" % (label, len(keys)))
    check(sum(1 for x in expected if x["error_kind"]) >= 10 and
          sum(1 for x in expected if "6e6577" in x["info"] or "66726f6d2d6e6f6465" in x["info"]) >= 20,
          "%s: with error_info and with unknown fields among them" % label)
    want = {tuple(x["key"]): x for x in expected}

    # --- the database, directly ---
    rows = direct()
    got = {}
    for k, info, kind in rows:
        if k in got:
            check(False, "%s: row %r stored once" % (label, k))
        got[k] = (info, kind)
    check(len(rows) == len(want) and set(got) == set(want),
          "%s: direct query: exactly the %d events sent, each once (%d rows)"
          % (label, len(want), len(rows)))
    bad = [k for k in want if got[k][0] != want[k]["info"]]
    check(not bad, "%s: direct query: info byte-exact (hex) for every row (%d differ, e.g. %r)"
          % (label, len(bad), bad[:1]))
    bad = [k for k in want if got[k][1] != want[k]["error_kind"]]
    check(not bad, "%s: direct query: error_kind right for every row (%d differ, e.g. %r)"
          % (label, len(bad), bad[:1]))

    # --- hopwire events --json ---
    p = subprocess.run([CLI, "events", "--store", store, "--json"], capture_output=True,
                       timeout=60)
    check(p.returncode == 0, "%s: hopwire events --json (rc %d: %s)"
          % (label, p.returncode, p.stderr.decode()))
    lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
    seen = set()
    for o in lines:
        k = (o["project"], o["domain"], o["run"], o["action"], o["attempt"],
             PHASE_NUM.get(o["phase"], o["phase"]), o["version"])
        if k not in want or k in seen:
            check(False, "%s: hopwire events: unexpected or repeated row %r" % (label, k))
        seen.add(k)
        w = want[k]
        if o["error_kind"] != w["error_kind"] or o["info_bytes"] != len(w["info"]) // 2:
            check(False, "%s: hopwire events: error_kind/info_bytes of %r: %r" % (label, k, o))
        sent = fp.ActionEvent()
        sent.ParseFromString(bytes.fromhex(w["info"]))
        sent.DiscardUnknownFields()
        shown = json_format.Parse(json.dumps(o["event"]), fp.ActionEvent())
        if shown != sent:
            check(False, "%s: hopwire events: the event JSON of %r parses to a different message"
                  % (label, k))
    check(seen == set(want), "%s: hopwire events --json: every event once (%d lines), error_kind, "
          "info_bytes, event JSON equal to what was sent" % (label, len(lines)))
    for p in (px, rs):
        check(p.stop() == 0, "%s: %s stopped cleanly" % (label, p.args[1]))
        procs.remove(p)


pg = None
try:
    if not os.path.isdir(os.path.join(INTEROP, "node_modules", "@connectrpc", "connect-node")):
        check(False, "tests/interop/node_modules missing: run scripts/setup.sh")
    db = os.path.join(tmp, "events.db")
    suite("sqlite", "sqlite:" + db, lambda: rows_sqlite(db))
    pg = Postgres()
    print("ok: PostgreSQL 15 on 127.0.0.1:%d (pid %d)" % (pg.port, pg.pid))
    suite("postgres", pg.url, lambda: rows_pg(pg))
finally:
    for p in procs:
        p.stop()
    if pg:
        pg.destroy()
    shutil.rmtree(tmp, ignore_errors=True)
