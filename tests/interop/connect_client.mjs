// A @connectrpc/connect-node client running the interop battery against a TestService.
// Usage: node connect_client.mjs --url http://127.0.0.1:PORT [--protocol connect|grpc|grpc-web]
//          [--http 1.1|2] [--codec proto|json] [--gzip] [--get]
// Prints one line per check and "N passed, M failed"; exits 0 only if all passed.
import { createPromiseClient, ConnectError, Code } from "@connectrpc/connect";
import {
  createConnectTransport, createGrpcTransport, createGrpcWebTransport, compressionGzip,
} from "@connectrpc/connect-node";
import { TestService, ErrorInfo, parseArgs } from "./service.mjs";

const a = parseArgs(process.argv.slice(2), { protocol: "connect", http: "2", codec: "proto" });
if (!a.url) throw new Error("--url is required");
const opts = {
  baseUrl: a.url,
  httpVersion: a.http === "1.1" ? "1.1" : "2",
  useBinaryFormat: a.codec !== "json",
  acceptCompression: [compressionGzip],
  sendCompression: a.gzip ? compressionGzip : undefined,
  compressMinBytes: 0,
};
const make = { connect: createConnectTransport, grpc: createGrpcTransport,
               "grpc-web": createGrpcWebTransport }[a.protocol];
if (!make) throw new Error("bad --protocol");
if (a.get) opts.useHttpGet = true;
const client = createPromiseClient(TestService, make(opts));

let passed = 0, failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log("ok:", name);
  } catch (e) {
    failed++;
    console.log("FAIL:", name, "-", e && e.stack ? e.stack : e);
  }
}
function eq(got, want, what) {
  if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

// GET carries the message in the URL: keep it under common header limits.
const payload = new Uint8Array(a.get ? 4096 : 100 * 1024).map((_, i) => (i * 7) & 0xff);
await check("echo small", async () => {
  const r = await client.echo({ text: "héllo", payload: new Uint8Array([0, 1, 2, 255]) });
  eq(r.text, "héllo", "text");
  eq(Buffer.from(r.payload).toString("hex"), "000102ff", "payload");
});
await check("echo empty", async () => {
  const r = await client.echo({});
  eq(r.text, "", "text");
  eq(r.payload.length, 0, "payload");
});
await check("response header and trailer from the handler", async () => {
  let hdr, trl;
  const r = await client.echo({ text: "t" }, {
    headers: { "x-want-trailer": "tv1" },
    onHeader: (h) => { hdr = h; },
    onTrailer: (t) => { trl = t; },
  });
  eq(r.text, "t", "text");
  eq(hdr && hdr.get("x-echo-header"), "tv1", "header");
  eq(trl && trl.get("x-echo-trailer"), "tv1", "trailer");
});
await check(`echo ${payload.length} B`, async () => {
  const r = await client.echo({ text: "big", payload });
  eq(Buffer.compare(Buffer.from(r.payload), Buffer.from(payload)), 0, "payload");
});
for (let code = 1; code <= 16; code++) {
  await check(`fail code ${code} (${Code[code]})`, async () => {
    try {
      await client.fail({ code, message: `failure ${code}: ünïcode % \n` });
    } catch (e) {
      const ce = ConnectError.from(e);
      eq(ce.code, code, "code");
      eq(ce.rawMessage, `failure ${code}: ünïcode % \n`, "message");
      const d = ce.findDetails(ErrorInfo);
      eq(d.length, 1, "details");
      eq(d[0].code, code, "detail code");
      eq(d[0].reason, `failure ${code}: ünïcode % \n`, "detail reason");
      return;
    }
    throw new Error("no error");
  });
}
await check("deadline exceeded", async () => {
  const t0 = Date.now();
  try {
    await client.slow({ delayMs: 3000 }, { timeoutMs: 200 });
  } catch (e) {
    eq(ConnectError.from(e).code, Code.DeadlineExceeded, "code");
    if (Date.now() - t0 > 2000) throw new Error("deadline took " + (Date.now() - t0) + " ms");
    return;
  }
  throw new Error("no error");
});
await check("slow within deadline", async () => {
  const r = await client.slow({ delayMs: 50 }, { timeoutMs: 5000 });
  eq(r.text, "slow", "text");
});
await check("unknown method is unimplemented", async () => {
  const other = createPromiseClient({ ...TestService, typeName: "hopwire.test.v1.Nope" }, make(opts));
  try {
    await other.echo({ text: "x" });
  } catch (e) {
    eq(ConnectError.from(e).code, Code.Unimplemented, "code");
    return;
  }
  throw new Error("no error");
});
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
