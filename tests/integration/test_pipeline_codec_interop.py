"""The event codec against an independent protobuf implementation (Debian's python3-protobuf,
loading the FileDescriptorSet the build writes to build/gen/proto/flyteidl2.pb):

- RecordRequests with realistic events (error_info, log_info, log_context, cluster_events,
  outputs, cache metadata, non-ASCII strings, unknown fields appended as raw bytes, a
  duplicate) decode in C (tests/tools/evcodec_tool) to the same keys, error_kind and `info`
  bytes as python's own serialization of each event;
- python's MessageToJson output (camelCase, proto names, enums as numbers) converts in C to
  binary that python parses back to an equal message;
- hop_ev_event_to_json's output parses in python (json_format.Parse) to an equal message and
  is the same JSON document as python's MessageToJson.
"""
import json
import os
import random
import subprocess
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

BUILD = os.environ.get("HOP_BUILD_DIR", "build")
TOOL = os.path.join(BUILD, "evcodec_tool")
DESC = os.path.join(BUILD, "gen", "proto", "flyteidl2.pb")


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)


def load_classes():
    fds = descriptor_pb2.FileDescriptorSet()
    with open(DESC, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)

    def cls(name):
        d = pool.FindMessageTypeByName(name)
        if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
            return message_factory.GetMessageClass(d)
        return message_factory.MessageFactory(pool).GetPrototype(d)

    return cls("flyteidl2.workflow.RecordRequest"), cls("flyteidl2.workflow.ActionEvent")


def tool(cmd, data):
    p = subprocess.run([TOOL, cmd], input=data, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def unknown_suffix(rnd):
    """Fields 50..53 (unknown to this schema) of every wire type a newer Flyte might use."""
    s = varint(50 << 3 | 0) + varint(rnd.randrange(1 << 40))
    txt = "newer-field-\u00e9".encode()
    s += varint(51 << 3 | 2) + varint(len(txt)) + txt
    s += varint(52 << 3 | 5) + bytes(rnd.randrange(256) for _ in range(4))
    s += varint(53 << 3 | 1) + bytes(rnd.randrange(256) for _ in range(8))
    return s


def make_event(ActionEvent, rnd, i):
    e = ActionEvent()
    e.id.run.org = ""  # the executor sends none
    e.id.run.project = "proj-%d" % (i % 3)
    e.id.run.domain = ["development", "staging", "production"][i % 3]
    e.id.run.name = "r%05d" % (i // 4)
    e.id.name = "a%d-\u00e9\u6f22" % i if i % 5 == 0 else "a%d" % i
    e.attempt = 1 + i % 3
    e.phase = 1 + i % 10
    e.version = i % 4
    base = 1796317200 + i
    e.updated_time.seconds = base
    e.updated_time.nanos = (i * 7919) % 1000000000
    e.reported_time.seconds = base + 1
    e.reported_time.nanos = 123000000
    e.cluster = "cluster-%d" % (i % 2)
    if i % 4 == 1:
        e.error_info.message = "OOMKilled: container exceeded 1Gi \U0001F4A5"
        e.error_info.kind = 1 + i % 3  # USER, SYSTEM, and 3 (unnamed) once in a while
    if i % 7 == 3:
        e.error_info.SetInParent()  # present but empty: KIND_UNSPECIFIED
    for k in range(i % 3):
        log = e.log_info.add()
        log.uri = "https://logs.example.com/%d/%d?x=\"q\"" % (i, k)
        log.name = "Kubernetes Logs (User)"
        log.message_format = k % 3
        log.ttl.seconds = 3600 * k
        log.ttl.nanos = 500000000 if k else 0
        log.ShowWhilePending = bool(k)
        log.HideOnceFinished = not k
        log.link_type = k
        log.ready = True
        log.icon_uri = "icon\n%d" % k
    if i % 2 == 0:
        pod = e.log_context.pods.add()
        pod.namespace = "flyte-%d" % i
        pod.pod_name = "pod-%d" % i
        pod.primary_container_name = "main"
        c = pod.containers.add()
        c.container_name = "main"
        c.process.container_start_time.seconds = base - 10
        c.process.container_end_time.seconds = base - 1
        c.process.container_end_time.nanos = 1
        ic = pod.init_containers.add()
        ic.container_name = "init\t\u00fc"
        e.log_context.primary_pod_name = "pod-%d" % i
        e.log_context.pod_name_prefixes.extend(["pod-", "p%d" % i])
        e.log_context.connector.endpoint = "dns:///connector:8000"
    if i % 3 == 0:
        e.outputs.output_uri = "s3://bucket/%d/outputs.pb" % i
        e.outputs.report_uri = "s3://bucket/%d/report.html" % i
    e.cache_status = i % 8
    for k in range(i % 4):
        ce = e.cluster_events.add()
        ce.occurred_at.seconds = base - 100 + k
        ce.message = "Pulled image \"x:%d\"" % k
        ce.type = k % 3
        ce.reason = "Pulled"
        ce.source_component = "kubelet"
        ce.count = -k if k == 3 else k
    if i % 6 == 5:
        e.cache_metadata.source_action_attempt.action_id.run.project = "proj"
        e.cache_metadata.source_action_attempt.action_id.name = "src"
        e.cache_metadata.source_action_attempt.attempt = 2
    return e


def kind_name(ActionEvent, e):
    if not e.HasField("error_info"):
        return "-"
    enum = ActionEvent.DESCRIPTOR.fields_by_name["error_info"].message_type.enum_types_by_name["Kind"]
    v = enum.values_by_number.get(e.error_info.kind)
    return v.name if v else str(e.error_info.kind)


def main():
    check(os.path.exists(TOOL), "evcodec_tool built at %s" % TOOL)
    check(os.path.exists(DESC), "descriptor set at %s" % DESC)
    RecordRequest, ActionEvent = load_classes()
    rnd = random.Random(7)

    req = RecordRequest()
    for i in range(60):
        e = make_event(ActionEvent, rnd, i)
        if i % 4 == 2:  # a newer Flyte's fields: python keeps them as unknown fields
            raw = e.SerializeToString() + unknown_suffix(rnd)
            e = ActionEvent()
            e.ParseFromString(raw)
        req.events.append(e)
    req.events.append(req.events[2])  # a duplicate (with unknown fields) decodes as a second row
    body = req.SerializeToString()

    # ---- binary: keys, error_kind and info ----
    rc, out, err = tool("decode", body)
    check(rc == 0, "C decodes python's RecordRequest (%s)" % err.strip())
    lines = out.decode().splitlines()
    check(len(lines) == len(req.events), "%d rows for %d events" % (len(lines), len(req.events)))
    unh = lambda h: "" if h == "." else bytes.fromhex(h).decode()
    unknown_seen = 0
    for i, (line, e) in enumerate(zip(lines, req.events)):
        f = line.split(" ")
        want_info = e.SerializeToString()
        if "newer-field-\u00e9".encode() in want_info:
            unknown_seen += 1
        got = (unh(f[0]), unh(f[1]), unh(f[2]), unh(f[3]), int(f[4]), int(f[5]), int(f[6]), f[7])
        want = (e.id.run.project, e.id.run.domain, e.id.run.name, e.id.name, e.attempt, e.phase,
                e.version, kind_name(ActionEvent, e))
        if got != want:
            check(False, "row %d keys: %r != %r" % (i, got, want))
        if bytes.fromhex(f[8]) != want_info:
            check(False, "row %d info differs from python's serialization" % i)
    check(True, "every row: keys and error_kind as python reads them, info byte-exact")
    check(unknown_seen >= 15, "%d events carried unknown fields through info" % unknown_seen)
    kinds = {l.split(" ")[7] for l in lines}
    check({"-", "KIND_USER", "KIND_SYSTEM", "KIND_UNSPECIFIED", "3"} <= kinds,
          "error_kind names seen: %s" % sorted(kinds))

    # a truncated copy fails in both implementations
    rc, _, err = tool("decode", body[:-1])
    check(rc == 1 and "truncated" in err, "truncated body refused (%s)" % err.strip())
    try:
        RecordRequest().ParseFromString(body[:-1])
        check(False, "python accepted the truncated body")
    except Exception:  # google.protobuf.message.DecodeError
        pass

    # ---- JSON in: python's MessageToJson -> C binary -> python ----
    plain = RecordRequest()
    plain.CopyFrom(req)
    plain.DiscardUnknownFields()  # JSON has no unknown fields
    variants = {
        "camelCase": json_format.MessageToJson(plain),
        "proto names": json_format.MessageToJson(plain, preserving_proto_field_name=True),
        "enums as numbers": json_format.MessageToJson(plain, use_integers_for_enums=True),
        "compact, one line": json.dumps(json.loads(json_format.MessageToJson(plain)),
                                        separators=(",", ":"), ensure_ascii=False),
    }
    for what, js in variants.items():
        rc, out, err = tool("json2bin", js.encode())
        check(rc == 0, "C converts python's JSON (%s) (%s)" % (what, err.strip()))
        back = RecordRequest()
        back.ParseFromString(out)
        check(back == plain, "python parses C's binary back to an equal message (%s)" % what)
        check(out == plain.SerializeToString(),
              "C's binary is byte-identical to python's serialization (%s)" % what)

    # JSON that protojson refuses is refused here too
    for js, what in ((b'{"events":[{"bogus":1}]}', "unknown field"),
                     (b'{"events":[{"attempt":"x"}]}', "wrong type"),
                     (b'{"events":[{"phase":"NOPE"}]}', "unknown enum name"),
                     (b'{"events":[' + b"[" * 100 + b"]" * 100 + b"]}", "deep nesting")):
        rc, _, err = tool("json2bin", js)
        check(rc == 1, "refused: %s (%s)" % (what, err.strip()))
        try:
            json_format.Parse(js.decode(), RecordRequest())
            check(False, "python accepted %s" % what)
        except json_format.ParseError:
            pass

    # ---- JSON out: hop_ev_event_to_json -> python ----
    for i, e in enumerate(req.events):
        rc, out, err = tool("event2json", e.SerializeToString())
        if rc != 0:
            check(False, "event %d to JSON (%s)" % (i, err.strip()))
        want = ActionEvent()
        want.CopyFrom(e)
        want.DiscardUnknownFields()
        got = json_format.Parse(out.decode(), ActionEvent())
        if got != want:
            check(False, "event %d: python parses C's JSON to a different message: %s" % (i, out))
        if json.loads(out) != json.loads(json_format.MessageToJson(want)):
            check(False, "event %d: C's JSON %s != python's %s"
                  % (i, out, json_format.MessageToJson(want, indent=None)))
        if b"\n" in out:
            check(False, "event %d: JSON is not one line" % i)
    check(True, "every event's C JSON parses in python to an equal message, same document as "
          "python's MessageToJson, one line")


if __name__ == "__main__":
    main()
