// A @grpc/grpc-js server with the test service, h2c on 127.0.0.1:0.
// Prints "listening on 127.0.0.1:PORT" once ready; exits on SIGTERM.
"use strict";
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const { loadTest, statusDetails } = require("./grpc_common.js");

const { pkg } = loadTest();
const server = new grpc.Server();
server.addService(pkg.TestService.service, {
  Echo: (call, cb) => cb(null, call.request),
  Fail: (call, cb) => {
    const { code, message } = call.request;
    const md = new grpc.Metadata();
    md.set("grpc-status-details-bin", statusDetails(code, message));
    cb({ code, details: message, metadata: md });
  },
  Slow: (call, cb) => {
    const t = setTimeout(() => cb(null, { text: "slow" }), call.request.delay_ms);
    call.on("cancelled", () => clearTimeout(t));
  },
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
});
const stop = () => { server.forceShutdown(); process.exit(0); };
process.on("SIGTERM", stop);
// A test that dies without stopping us must not leave us running: exit when orphaned.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) stop(); }, 500).unref();
process.on("SIGINT", stop);
void path;
