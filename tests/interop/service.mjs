// The test service's types for @connectrpc/connect (built at run time, mirroring test.proto).
import { proto3, ScalarType, MethodKind, MethodIdempotency } from "@bufbuild/protobuf";

export const EchoMessage = proto3.makeMessageType("hopwire.test.v1.EchoMessage", [
  { no: 1, name: "text", kind: "scalar", T: ScalarType.STRING },
  { no: 2, name: "payload", kind: "scalar", T: ScalarType.BYTES },
]);
export const FailRequest = proto3.makeMessageType("hopwire.test.v1.FailRequest", [
  { no: 1, name: "code", kind: "scalar", T: ScalarType.INT32 },
  { no: 2, name: "message", kind: "scalar", T: ScalarType.STRING },
]);
export const ErrorInfo = proto3.makeMessageType("hopwire.test.v1.ErrorInfo", [
  { no: 1, name: "reason", kind: "scalar", T: ScalarType.STRING },
  { no: 2, name: "code", kind: "scalar", T: ScalarType.INT32 },
]);
export const SlowRequest = proto3.makeMessageType("hopwire.test.v1.SlowRequest", [
  { no: 1, name: "delayMs", jsonName: "delayMs", kind: "scalar", T: ScalarType.INT32 },
]);

export const TestService = {
  typeName: "hopwire.test.v1.TestService",
  methods: {
    echo: { name: "Echo", I: EchoMessage, O: EchoMessage, kind: MethodKind.Unary,
            idempotency: MethodIdempotency.NoSideEffects },
    fail: { name: "Fail", I: FailRequest, O: EchoMessage, kind: MethodKind.Unary },
    slow: { name: "Slow", I: SlowRequest, O: EchoMessage, kind: MethodKind.Unary },
  },
};

// The bench service: Echo of raw bytes (any message), as `hopwire serve` offers it.
export const BenchService = {
  typeName: "hopwire.bench.v1.BenchService",
  methods: {
    echo: { name: "Echo", I: EchoMessage, O: EchoMessage, kind: MethodKind.Unary },
  },
};

export function parseArgs(argv, defaults) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error("bad argument " + a);
    const k = a.slice(2);
    const v = i + 1 < argv.length && !argv[i + 1].startsWith("--") ? argv[++i] : "1";
    o[k] = v;
  }
  return o;
}
