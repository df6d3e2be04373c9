// A @grpc/grpc-js client running the interop battery against a TestService (h2c).
// Usage: node grpc_client.js --url 127.0.0.1:PORT   (also accepts http://host:port)
"use strict";
const grpc = require("@grpc/grpc-js");
const { loadTest, decodeDetails } = require("./grpc_common.js");

const argv = process.argv.slice(2);
const i = argv.indexOf("--url");
if (i < 0) throw new Error("--url is required");
const target = argv[i + 1].replace(/^http:\/\//, "");
const gzip = argv.includes("--gzip");
const { pkg } = loadTest();
const client = new pkg.TestService(target, grpc.credentials.createInsecure(),
  gzip ? { "grpc.default_compression_algorithm": 2, "grpc.default_compression_level": 2 } : {});

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
const call = (m, req, opts = {}) => new Promise((resolve, reject) =>
  client[m](req, opts, (err, res) => (err ? reject(err) : resolve(res))));

(async () => {
  const payload = Buffer.alloc(100 * 1024).map((_, j) => (j * 7) & 0xff);
  await check("echo small", async () => {
    const r = await call("Echo", { text: "héllo", payload: Buffer.from([0, 1, 2, 255]) });
    eq(r.text, "héllo", "text");
    eq(r.payload.toString("hex"), "000102ff", "payload");
  });
  await check("response header and trailer from the handler", async () => {
    const md = new grpc.Metadata();
    md.set("x-want-trailer", "tv2");
    let hdr, trl;
    const r = await new Promise((resolve, reject) => {
      const c = client.Echo({ text: "t" }, md, {}, (err, res) => (err ? reject(err) : resolve(res)));
      c.on("metadata", (m) => { hdr = m; });
      c.on("status", (s) => { trl = s.metadata; });
    });
    eq(r.text, "t", "text");
    eq(hdr && String(hdr.get("x-echo-header")[0]), "tv2", "header");
    await new Promise((resolve) => setImmediate(resolve)); // 'status' may follow the callback
    eq(trl && String(trl.get("x-echo-trailer")[0]), "tv2", "trailer");
  });
  await check("echo 100 KiB", async () => {
    const r = await call("Echo", { text: "big", payload });
    eq(Buffer.compare(r.payload, payload), 0, "payload");
  });
  for (let code = 1; code <= 16; code++) {
    await check(`fail code ${code}`, async () => {
      const msg = `failure ${code}: ünïcode % \n`;
      try {
        await call("Fail", { code, message: msg });
      } catch (e) {
        eq(e.code, code, "code");
        eq(e.details, msg, "message");
        const bin = e.metadata.get("grpc-status-details-bin");
        eq(bin.length, 1, "details-bin present");
        const d = decodeDetails(bin[0]);
        eq(d.length, 1, "details");
        eq(d[0].type, "type.googleapis.com/hopwire.test.v1.ErrorInfo", "detail type");
        eq(d[0].info.code, code, "detail code");
        eq(d[0].info.reason, msg, "detail reason");
        return;
      }
      throw new Error("no error");
    });
  }
  await check("deadline exceeded", async () => {
    const t0 = Date.now();
    try {
      await call("Slow", { delay_ms: 3000 }, { deadline: Date.now() + 200 });
    } catch (e) {
      eq(e.code, grpc.status.DEADLINE_EXCEEDED, "code");
      if (Date.now() - t0 > 2000) throw new Error("deadline took " + (Date.now() - t0) + " ms");
      return;
    }
    throw new Error("no error");
  });
  await check("unknown method is unimplemented", async () => {
    const raw = new grpc.Client(target, grpc.credentials.createInsecure());
    await new Promise((resolve, reject) => {
      raw.makeUnaryRequest("/hopwire.test.v1.Nope/Echo", (x) => x, (x) => x, Buffer.alloc(0),
        (err) => {
          raw.close();
          if (!err) return reject(new Error("no error"));
          try { eq(err.code, grpc.status.UNIMPLEMENTED, "code"); resolve(); } catch (e) { reject(e); }
        });
    });
  });
  console.log(`${passed} passed, ${failed} failed`);
  client.close();
  process.exit(failed ? 1 : 0);
})();
