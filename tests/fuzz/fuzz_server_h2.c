/* libFuzzer: an h2c server connection fed arbitrary bytes after the client preface: the
 * whole glue (sniffing, the frame gate, nghttp2 callbacks, flood counters, body budgets,
 * dispatch to /healthz, Echo (Connect, gRPC, gRPC-Web), /later and 404, answers, trailers,
 * resets, GOAWAY, close), not just libnghttp2. See server_harness.h. */
#include <stddef.h>
#include <stdint.h>

#include "server_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  harness_init();
  harness_run(preface, sizeof(preface) - 1, data, size);
  return 0;
}
