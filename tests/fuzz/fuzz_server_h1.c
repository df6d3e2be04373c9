/* libFuzzer: a server connection fed arbitrary bytes from its first byte: protocol sniffing
 * (HTTP/1.1, h2c prior knowledge, a bad "PRI * HTTP/2.0" preface), the HTTP/1.1 connection
 * (pipelining, keep-alive, 100-continue, smuggling checks, body budget, 4xx + close) and the
 * handlers behind it. See server_harness.h. */
#include <stddef.h>
#include <stdint.h>

#include "server_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  harness_init();
  harness_run(NULL, 0, data, size);
  return 0;
}
