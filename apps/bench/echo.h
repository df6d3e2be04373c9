/* The benchmark service `hopwire serve` answers with: /hopwire.bench.v1.BenchService/Echo
 * sends the request message back unchanged, in Connect, gRPC and gRPC-Web, proto or JSON,
 * after an optional delay (a timer on the request's loop: it never blocks a worker).
 * Side-effect free: Connect GET works. Raw HTTP POSTs (h2load, curl) get their body back. */
#ifndef HOP_APPS_BENCH_ECHO_H
#define HOP_APPS_BENCH_ECHO_H

#include <stdint.h>

#include "hopwire/rpc.h"

#define HOP_BENCH_ECHO_PATH "/hopwire.bench.v1.BenchService/Echo"

/* Registers Echo on |rs| (before start). */
int hop_bench_echo_register(hop_rpc_server *rs, uint64_t delay_ms);
/* Attaches a new RPC router with default settings to |s| and registers Echo on it. Free
 * *out with hop_rpc_server_free after hop_server_free. */
int hop_bench_echo_attach(hop_server *s, uint64_t delay_ms, hop_rpc_server **out);

#endif
