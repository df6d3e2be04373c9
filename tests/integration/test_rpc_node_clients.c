/* Interop, Node.js clients -> hopwire's RPC server (in this process): @connectrpc/connect-node
 * in Connect, gRPC and gRPC-Web over HTTP/1.1 and h2c, binary and JSON, Connect GET, gzip;
 * @grpc/grpc-js over h2c, plain and gzip. Each peer run asserts echo (small, empty, 100 KiB),
 * a response header and trailer set by the handler (hop_rpc_reply_trailers),
 * all 16 error codes with message and an ErrorInfo detail, a deadline against a slow method,
 * and unimplemented for an unknown method; it exits non-zero on any failed check.
 * ctest: RUN_SERIAL
 * ctest: TIMEOUT=240 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "hopwire/server.h"
#include "rpc_testsvc.h"

static hop_server *srv;
static hop_rpc_server *rs;
static char url[64];

static int setup(void **state) {
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 2;
  cfg.port = 0;
  if (hop_server_new(&srv, &cfg)) return -1;
  if (hop_rpc_server_new(&rs, srv, NULL) || tsv_register(rs)) return -1;
  if (hop_server_start(srv)) return -1;
  snprintf(url, sizeof(url), "http://127.0.0.1:%u", hop_server_port(srv));
  return 0;
}

static int teardown(void **state) {
  hop_server_stop(srv);
  hop_server_wait(srv);
  hop_server_free(srv);
  hop_rpc_server_free(rs);
  return 0;
}

static void run_connect(const char *protocol, const char *http, const char *codec,
                        const char *extra) {
  printf("== connect-node client: %s over HTTP/%s, %s %s\n", protocol, http, codec,
         extra ? extra : "");
  char *argv[16] = {"node", "connect_client.mjs", "--url", url, "--protocol", (char *)protocol,
                    "--http", (char *)http, "--codec", (char *)codec, (char *)extra, NULL};
  assert_int_equal(tsv_run_node(60, argv), 0);
}

static void connect_protocol(void **state) {
  run_connect("connect", "1.1", "proto", NULL);
  run_connect("connect", "1.1", "json", NULL);
  run_connect("connect", "2", "proto", NULL);
  run_connect("connect", "2", "json", NULL);
}

static void connect_get_and_gzip(void **state) {
  run_connect("connect", "1.1", "proto", "--get");
  run_connect("connect", "2", "json", "--get");
  run_connect("connect", "2", "proto", "--gzip");
  run_connect("connect", "1.1", "json", "--gzip");
}

static void grpc_protocol(void **state) {
  run_connect("grpc", "2", "proto", NULL);
  run_connect("grpc", "2", "json", NULL);
  run_connect("grpc", "2", "proto", "--gzip");
}

static void grpc_web_protocol(void **state) {
  run_connect("grpc-web", "1.1", "proto", NULL);
  run_connect("grpc-web", "1.1", "json", NULL);
  run_connect("grpc-web", "2", "proto", NULL);
  run_connect("grpc-web", "2", "json", "--gzip");
}

static void grpc_js_client(void **state) {
  printf("== grpc-js client over h2c\n");
  char *argv[] = {"node", "grpc_client.js", "--url", url, NULL};
  assert_int_equal(tsv_run_node(60, argv), 0);
  printf("== grpc-js client over h2c, gzip\n");
  char *argv2[] = {"node", "grpc_client.js", "--url", url, "--gzip", NULL};
  assert_int_equal(tsv_run_node(60, argv2), 0);
  hop_rpc_server_stats st;
  hop_rpc_server_get_stats(rs, &st);
  assert_true(st.ok > 0 && st.errors > 0 && st.deadline_exceeded > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(connect_protocol), cmocka_unit_test(connect_get_and_gzip),
      cmocka_unit_test(grpc_protocol),    cmocka_unit_test(grpc_web_protocol),
      cmocka_unit_test(grpc_js_client),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
