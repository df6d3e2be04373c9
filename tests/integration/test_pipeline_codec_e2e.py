"""End to end through the codec with independent protobuf implementations on the sending side:
events built by @bufbuild/protobuf 1.10.1 and sent by @connectrpc/connect-node 1.7.0 (Connect
binary and JSON over h2c, Connect binary over HTTP/1.1, gRPC over h2c), and built by
python3-protobuf and sent by `curl --http2-prior-knowledge` (binary with unknown fields, and
MessageToJson as application/json) -> hopwire events-proxy -> hopwire run-service -> SQLite.
Every batch is sent twice. Then a direct `sqlite3 -json` query and `hopwire events --json`
must see every event exactly once, `info` byte-exact (hex), error_kind right, and the stored
event's JSON must parse in python to the message that was sent.
(PostgreSQL is not covered here: no PostgreSQL test helper has landed on main.)
ctest: TIMEOUT=300"""
import json
import os
import random
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

tmp = tempfile.mkdtemp(prefix="hop-codec-e2e-")
db = os.path.join(tmp, "events.db")
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


try:
    if not os.path.isdir(os.path.join(INTEROP, "node_modules", "@connectrpc", "connect-node")):
        check(False, "tests/interop/node_modules missing: run scripts/setup.sh")
    rs = start([CLI, "run-service", "--listen", "127.0.0.1:0", "--store", "sqlite:" + db,
                "--threads", "2"])
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
        check(st == 200 and out == b"", "curl binary Record #%d: 200, empty RecordResponse (%d %r)"
              % (attempt + 1, st, out[:200]))
    expected += [expect_of(e, e.SerializeToString()) for e in evs]

    evs = python_events("c-json", rnd, 30, unknown=False)
    req = fp.RecordRequest()
    for e in evs:
        req.events.add().CopyFrom(e)
    js = json_format.MessageToJson(req).encode()
    for attempt in range(2):
        st, out = fp.connect_post(px.port, fp.RECORD, js, content_type="application/json")
        check(st == 200 and json.loads(out or b"null") == {},
              "curl JSON Record #%d: 200, {} (%d %r)" % (attempt + 1, st, out[:200]))
    expected += [expect_of(e, e.SerializeToString()) for e in evs]

    # a JSON body protojson refuses never reaches the store
    st, out = fp.connect_post(px.port, fp.RECORD, b'{"events":[{"id":{"name":"x"},"bogus":1}]}',
                              content_type="application/json")
    check(st == 400 and b"bogus" in out, "curl JSON with an unknown field: 400 naming it (%d %r)"
          % (st, out[:200]))

    keys = [tuple(x["key"]) for x in expected]
    check(len(set(keys)) == len(keys), "%d distinct events sent (each twice)" % len(keys))
    check(sum(1 for x in expected if x["error_kind"]) >= 10 and
          sum(1 for x in expected if "6e6577" in x["info"] or "66726f6d2d6e6f6465" in x["info"]) >= 20,
          "with error_info and with unknown fields among them")
    want = {tuple(x["key"]): x for x in expected}

    # --- sqlite3, directly ---
    p = subprocess.run(["sqlite3", "-json", db,
                        "SELECT project, domain, run_name, name, attempt, phase, version, "
                        "hex(info) AS info, error_kind FROM action_events"],
                       capture_output=True, timeout=30)
    check(p.returncode == 0, "sqlite3 query (%s)" % p.stderr.decode(errors="replace"))
    rows = json.loads(p.stdout or b"[]")
    got = {}
    for r in rows:
        k = (r["project"], r["domain"], r["run_name"], r["name"], r["attempt"], r["phase"],
             r["version"])
        if k in got:
            check(False, "row %r stored once" % (k,))
        got[k] = r
    check(len(rows) == len(want) and set(got) == set(want),
          "sqlite3: exactly the %d events sent, each once (%d rows)" % (len(want), len(rows)))
    bad = [k for k in want if got[k]["info"].lower() != want[k]["info"]]
    check(not bad, "sqlite3: info byte-exact (hex) for every row (%d differ, e.g. %r)"
          % (len(bad), bad[:1]))
    bad = [k for k in want if got[k]["error_kind"] != want[k]["error_kind"]]
    check(not bad, "sqlite3: error_kind right for every row (%d differ, e.g. %r)" % (len(bad), bad[:1]))

    # --- hopwire events --json ---
    p = subprocess.run([CLI, "events", "--store", "sqlite:" + db, "--json"], capture_output=True,
                       timeout=60)
    check(p.returncode == 0, "hopwire events --json (rc %d: %s)" % (p.returncode, p.stderr.decode()))
    lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
    seen = set()
    for o in lines:
        k = (o["project"], o["domain"], o["run"], o["action"], o["attempt"], o["phase"],
             o["version"])
        # phase comes by name; map back through the codec's names
        k = k[:5] + (PHASE_NUM.get(k[5], k[5]),) + k[6:]
        if k not in want or k in seen:
            check(False, "hopwire events: unexpected or repeated row %r" % (k,))
        seen.add(k)
        w = want[k]
        if o["error_kind"] != w["error_kind"] or o["info_bytes"] != len(w["info"]) // 2:
            check(False, "hopwire events: error_kind/info_bytes of %r: %r" % (k, o))
        sent = fp.ActionEvent()
        sent.ParseFromString(bytes.fromhex(w["info"]))
        sent.DiscardUnknownFields()
        shown = json_format.Parse(json.dumps(o["event"]), fp.ActionEvent())
        if shown != sent:
            check(False, "hopwire events: the event JSON of %r parses to a different message" % (k,))
    check(seen == set(want), "hopwire events --json: every event once (%d lines), error_kind, "
          "info_bytes, event JSON equal to what was sent" % len(lines))
finally:
    for p in procs:
        p.stop()
