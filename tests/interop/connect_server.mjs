// A @connectrpc/connect-node server with the test service (Connect, gRPC and gRPC-Web on one
// port) and the bench Echo. Usage: node connect_server.mjs [--http 1.1|2]
// Prints "listening on 127.0.0.1:PORT" once ready; exits on SIGTERM.
import http from "node:http";
import http2 from "node:http2";
import { ConnectError, Code } from "@connectrpc/connect";
import { connectNodeAdapter, compressionGzip } from "@connectrpc/connect-node";
import { TestService, BenchService, EchoMessage, ErrorInfo, parseArgs } from "./service.mjs";

const args = parseArgs(process.argv.slice(2), { http: "2" });

function routes(router) {
  router.service(TestService, {
    echo: (req) => req,
    fail: (req) => {
      const info = new ErrorInfo({ reason: req.message, code: req.code });
      throw new ConnectError(req.message, req.code, undefined, [info]);
    },
    slow: async (req, ctx) => {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, req.delayMs);
        ctx.signal.addEventListener("abort", () => { clearTimeout(t); reject(ctx.signal.reason); });
      });
      return new EchoMessage({ text: "slow" });
    },
  });
  router.service(BenchService, { echo: (req) => req });
}

const handler = connectNodeAdapter({
  routes,
  acceptCompression: [compressionGzip],
  compressMinBytes: 0,
});
const server = args.http === "1.1" ? http.createServer(handler) : http2.createServer(handler);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
});
const stop = () => { server.close(); process.exit(0); };
process.on("SIGTERM", stop);
// A test that dies without stopping us must not leave us running: exit when orphaned.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) stop(); }, 500).unref();
process.on("SIGINT", stop);
