// A bounded Connect unary load from @connectrpc/connect-node (one h2c session), for
// scripts/bench-rpc.sh. Usage: node bench_load.mjs --url http://127.0.0.1:PORT
//   [--calls 50000] [--concurrency 200] [--payload 100] [--gzip] [--max-seconds 30]
// Calls BenchService/Echo with an EchoMessage of about --payload bytes; prints one line
// "calls=N ok=N errors=N seconds=S calls_per_s=R p50_us=U p99_us=U".
import { createPromiseClient } from "@connectrpc/connect";
import { createConnectTransport, compressionGzip } from "@connectrpc/connect-node";
import { BenchService, parseArgs } from "./service.mjs";

const a = parseArgs(process.argv.slice(2), {
  calls: "50000", concurrency: "200", payload: "100", "max-seconds": "30",
});
const calls = Number(a.calls), conc = Number(a.concurrency), maxMs = Number(a["max-seconds"]) * 1000;
const client = createPromiseClient(BenchService, createConnectTransport({
  baseUrl: a.url,
  httpVersion: "2",
  useBinaryFormat: true,
  sendCompression: a.gzip ? compressionGzip : undefined,
  acceptCompression: a.gzip ? [compressionGzip] : [],
  compressMinBytes: 0,
}));
// EchoMessage{payload} of `payload` bytes on the wire: tag + length take 2 bytes below 128.
const msg = { payload: new Uint8Array(Math.max(0, Number(a.payload) - 2)).fill(120) };

const lat = [];
let started = 0, ok = 0, errors = 0, firstError = null;
const t0 = process.hrtime.bigint();
const elapsedMs = () => Number(process.hrtime.bigint() - t0) / 1e6;
async function worker() {
  while (started < calls && elapsedMs() < maxMs) {
    started++;
    const s = process.hrtime.bigint();
    try {
      await client.echo(msg);
      ok++;
    } catch (e) {
      errors++;
      firstError ??= e;
    }
    lat.push(Number(process.hrtime.bigint() - s) / 1000);
  }
}
await Promise.all(Array.from({ length: Math.min(conc, calls) }, worker));
const secs = elapsedMs() / 1000;
lat.sort((x, y) => x - y);
const q = (p) => Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] || 0);
console.log(`calls=${ok + errors} ok=${ok} errors=${errors} seconds=${secs.toFixed(3)} ` +
            `calls_per_s=${Math.round((ok + errors) / secs)} p50_us=${q(0.5)} p99_us=${q(0.99)}`);
if (firstError) console.error("first error:", String(firstError));
process.exit(errors ? 1 : 0);
