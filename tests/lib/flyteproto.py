"""flyteidl2 messages for script tests, built by an independent protobuf implementation
(Debian's python3-protobuf) from the descriptor set the build generates from proto/
(build/gen/proto/flyteidl2.pb), so hopwire's protoc-c code is checked against another
encoder/decoder."""
import os
import struct
import subprocess
import time

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

BUILD = os.environ.get("HOP_BUILD_DIR", "build")
_PB = os.path.join(BUILD, "gen", "proto", "flyteidl2.pb")

_fds = descriptor_pb2.FileDescriptorSet()
with open(_PB, "rb") as f:
    _fds.ParseFromString(f.read())
_msgs = message_factory.GetMessages(list(_fds.file))

ActionEvent = _msgs["flyteidl2.workflow.ActionEvent"]
RecordRequest = _msgs["flyteidl2.workflow.RecordRequest"]
RecordResponse = _msgs["flyteidl2.workflow.RecordResponse"]
RecordActionEventsRequest = _msgs["flyteidl2.workflow.RecordActionEventsRequest"]
RecordActionEventsResponse = _msgs["flyteidl2.workflow.RecordActionEventsResponse"]

PHASES = {"QUEUED": 1, "INITIALIZING": 3, "RUNNING": 4, "SUCCEEDED": 5, "FAILED": 6, "ABORTED": 7}
KIND_NAMES = {0: "KIND_UNSPECIFIED", 1: "KIND_USER", 2: "KIND_SYSTEM"}

RECORD = "/flyteidl2.workflow.EventsProxyService/Record"
RECORD_ACTION_EVENTS = "/flyteidl2.workflow.InternalRunService/RecordActionEvents"


def event(project="proj", domain="development", run="r0", action="a0", attempt=1,
          phase="RUNNING", version=0, error_kind=None, marker=""):
    """A realistic ActionEvent (~500 bytes) as Flyte's executor sends it (org empty)."""
    e = ActionEvent()
    e.id.run.org = ""
    e.id.run.project = project
    e.id.run.domain = domain
    e.id.run.name = run
    e.id.name = action
    e.attempt = attempt
    e.phase = PHASES[phase] if isinstance(phase, str) else phase
    e.version = version
    now = int(time.time())
    e.updated_time.seconds = now
    e.updated_time.nanos = 123000000
    e.reported_time.seconds = now
    e.cluster = "cluster-a"
    for i, name in enumerate(("Kubernetes Logs", "Dashboard")):
        lg = e.log_info.add()
        lg.uri = "https://logs.example.internal/%s/%s/%s/%d%s" % (project, run, action, i, marker)
        lg.name = name
        lg.ttl.seconds = 3600
        lg.ready = True
    pod = e.log_context.pods.add()
    pod.namespace = "%s-%s" % (project, domain)
    pod.pod_name = "%s-%s-%d" % (run, action, attempt)
    c = pod.containers.add()
    c.container_name = "main"
    c.process.container_start_time.seconds = now - 5
    pod.primary_container_name = "main"
    e.log_context.primary_pod_name = pod.pod_name
    e.outputs.output_uri = "s3://bucket/metadata/%s/%s/%d/outputs.pb" % (run, action, attempt)
    e.outputs.report_uri = "s3://bucket/metadata/%s/%s/%d/report.html" % (run, action, attempt)
    ce = e.cluster_events.add()
    ce.occurred_at.seconds = now
    ce.message = "Successfully assigned %s to node-7" % pod.pod_name
    if error_kind is not None:
        e.error_info.message = "user code raised ValueError"
        e.error_info.kind = error_kind
    return e


def record_request(events):
    r = RecordRequest()
    for e in events:
        r.events.add().CopyFrom(e)
    return r.SerializeToString()


def key(e):
    return (e.id.run.project, e.id.run.domain, e.id.run.name, e.id.name, e.attempt, e.phase,
            e.version)


def connect_post(port, path, body, content_type="application/proto", extra=(), timeout=20):
    """POST a Connect unary call with curl over h2c; returns (http_status, body bytes)."""
    args = ["curl", "-s", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_code}",
            "-m", str(timeout), "-H", "content-type: " + content_type, "--data-binary", "@-"]
    for h in extra:
        args += ["-H", h]
    args.append("http://127.0.0.1:%d%s" % (port, path))
    p = subprocess.run(args, input=body, capture_output=True, timeout=timeout + 5)
    out = p.stdout
    nl = out.rfind(b"\n")
    return int(out[nl + 1:] or b"0"), out[:nl]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def grpc_frame(msg):
    return b"\x00" + struct.pack(">I", len(msg)) + msg
