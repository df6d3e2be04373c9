// Shared by the grpc-js peers: loads test.proto at run time (no codegen) and builds
// google.rpc.Status details the way grpc's richer error model carries them.
"use strict";
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

const PROTO = path.join(__dirname, "test.proto");

function loadTest() {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
  return { pkg: grpc.loadPackageDefinition(def).hopwire.test.v1 };
}

const root = protobuf.loadSync(PROTO);
const ErrorInfo = root.lookupType("hopwire.test.v1.ErrorInfo");
const statusRoot = protobuf.Root.fromJSON({
  nested: {
    Any: { fields: { type_url: { type: "string", id: 1 }, value: { type: "bytes", id: 2 } } },
    Status: {
      fields: {
        code: { type: "int32", id: 1 },
        message: { type: "string", id: 2 },
        details: { rule: "repeated", type: "Any", id: 3 },
      },
    },
  },
});
const Status = statusRoot.lookupType("Status");

function statusDetails(code, message) {
  const info = ErrorInfo.encode({ reason: message, code }).finish();
  return Buffer.from(Status.encode({
    code, message,
    details: [{ type_url: "type.googleapis.com/hopwire.test.v1.ErrorInfo", value: info }],
  }).finish());
}

function decodeDetails(buf) {
  const st = Status.decode(buf);
  return st.details.map((d) => ({ type: d.type_url, info: ErrorInfo.decode(d.value) }));
}

module.exports = { loadTest, statusDetails, decodeDetails };
