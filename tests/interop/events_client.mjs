// A real Connect client for Flyte's EventsProxyService.Record, with messages built by
// @bufbuild/protobuf from the descriptor set the build generates (build/gen/proto/flyteidl2.pb,
// createRegistryFromDescriptors): an independent protobuf implementation and client stack.
// Usage: node events_client.mjs --url http://127.0.0.1:PORT --descriptors FILE --run NAME
//          [--protocol connect|grpc] [--http 1.1|2] [--codec proto|json] [--events N]
// Sends one RecordRequest of N events twice (the second is a replay: every row must still be
// stored once), then prints one JSON line per event with what the store must hold:
//   {"key":[project,domain,run,action,attempt,phase,version],"error_kind":..,"info":"hex"}
// With the binary codec every second event carries fields this schema does not know (raw
// bytes appended, kept by @bufbuild/protobuf as unknown fields); JSON cannot carry them.
import { readFileSync } from "node:fs";
import { createRegistryFromDescriptors, MethodKind } from "@bufbuild/protobuf";
import { createPromiseClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { parseArgs } from "./service.mjs";

const a = parseArgs(process.argv.slice(2), { protocol: "connect", http: "2", codec: "proto", events: "20" });
if (!a.url || !a.descriptors || !a.run) throw new Error("--url, --descriptors and --run are required");
const reg = createRegistryFromDescriptors(readFileSync(a.descriptors));
const find = (n) => {
  const t = reg.findMessage(n);
  if (!t) throw new Error("no message " + n + " in " + a.descriptors);
  return t;
};
const RecordRequest = find("flyteidl2.workflow.RecordRequest");
const RecordResponse = find("flyteidl2.workflow.RecordResponse");
const ActionEvent = find("flyteidl2.workflow.ActionEvent");
const Kind = reg.findEnum("flyteidl2.workflow.ErrorInfo.Kind");
const EventsProxyService = {
  typeName: "flyteidl2.workflow.EventsProxyService",
  methods: { record: { name: "Record", I: RecordRequest, O: RecordResponse, kind: MethodKind.Unary } },
};

const binary = a.codec !== "json";
const opts = { baseUrl: a.url, httpVersion: a.http === "1.1" ? "1.1" : "2", useBinaryFormat: binary };
const transport = a.protocol === "grpc" ? createGrpcTransport(opts) : createConnectTransport(opts);
const client = createPromiseClient(EventsProxyService, transport);

function varint(n) {
  const out = [];
  let v = BigInt(n);
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) out.push(b | 0x80);
    else {
      out.push(b);
      return out;
    }
  }
}

// fields 60..62 of three wire types: what a newer Flyte's executor might add
function unknownSuffix(i) {
  const txt = [...Buffer.from("from-node-\u00e9-" + i)];
  return Uint8Array.from([
    ...varint((60 << 3) | 0), ...varint(1234567890123 + i),
    ...varint((61 << 3) | 2), ...varint(txt.length), ...txt,
    ...varint((62 << 3) | 5), 1, 2, 3, i & 0xff,
  ]);
}

const n = Number(a.events);
const t0 = 1796317200;
const events = [];
for (let i = 0; i < n; i++) {
  let ev = new ActionEvent();
  ev = ActionEvent.fromJson({
    id: { run: { org: "", project: "proj-node", domain: "development", name: a.run }, name: `a${i}` },
    attempt: 1 + (i % 2),
    phase: ["ACTION_PHASE_QUEUED", "ACTION_PHASE_RUNNING", "ACTION_PHASE_FAILED"][i % 3],
    version: i % 3,
    updatedTime: new Date((t0 + i) * 1000 + 123).toISOString(),
    reportedTime: `2026-12-03T17:00:${String(i % 60).padStart(2, "0")}.000456789Z`,
    cluster: "cluster-n",
    ...(i % 3 === 2 ? { errorInfo: { message: `exit code ${i} \u2620`, kind: i % 2 ? "KIND_SYSTEM" : "KIND_USER" } } : {}),
    logInfo: [{ uri: `https://logs.example/n/${i}`, name: "Kubernetes Logs", ttl: "3600.5s", ready: true,
                ShowWhilePending: i % 2 === 0, messageFormat: "JSON" }],
    logContext: { pods: [{ namespace: "ns", podName: `pod-${i}`, containers: [{ containerName: "main",
                  process: { containerStartTime: "2026-12-03T16:59:00Z" } }] }], primaryPodName: `pod-${i}` },
    outputs: { outputUri: `s3://b/${i}/outputs.pb` },
    cacheStatus: "CACHE_MISS",
    clusterEvents: [{ occurredAt: "2026-12-03T16:58:00.500Z", message: "Scheduled \"ok\"", count: 2, type: "TYPE_NORMAL" }],
  });
  if (binary && i % 2 === 0) {
    const b = ev.toBinary();
    const s = unknownSuffix(i);
    const all = new Uint8Array(b.length + s.length);
    all.set(b);
    all.set(s, b.length);
    ev = ActionEvent.fromBinary(all);
  }
  events.push(ev);
}

const req = new RecordRequest({ events });
await client.record(req);
await client.record(req); // replay: at-least-once delivery, first write wins

const hex = (u8) => Buffer.from(u8).toString("hex");
for (const ev of events) {
  // the bytes the run-service receives for this event: binary keeps unknown fields, JSON not
  const info = binary ? ev.toBinary() : ActionEvent.fromJson(ev.toJson()).toBinary();
  const run = ev.id.run;
  const kind = ev.errorInfo ? (Kind.findNumber(ev.errorInfo.kind)?.name ?? String(ev.errorInfo.kind)) : null;
  console.log(JSON.stringify({
    key: [run.project, run.domain, run.name, ev.id.name, ev.attempt, ev.phase, ev.version],
    error_kind: kind, info: hex(info),
  }));
}
