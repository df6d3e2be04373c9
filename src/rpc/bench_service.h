/* The benchmark service: /hopwire.bench.v1.BenchService/Echo answers with the request message
 * unchanged, in Connect, gRPC and gRPC-Web, proto or JSON, after an optional delay (a timer on
 * the request's loop: it never blocks a worker). Side-effect free: Connect GET works. */
#ifndef HOP_RPC_BENCH_SERVICE_H
#define HOP_RPC_BENCH_SERVICE_H

#include <stdint.h>

#include "hopwire/rpc.h"

#define HOP_BENCH_ECHO_PATH "/hopwire.bench.v1.BenchService/Echo"

/* Registers Echo on |rs| (before start). */
int hop_rpc_bench_register(hop_rpc_server *rs, uint64_t delay_ms);
/* Attaches a new RPC router with default settings to |s| and registers Echo on it. Free
 * *out with hop_rpc_server_free after hop_server_free. */
int hop_rpc_bench_attach(hop_server *s, uint64_t delay_ms, hop_rpc_server **out);

#endif
