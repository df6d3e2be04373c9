/* hopwire: command-line entry point, dispatching to subcommands. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "hopwire/version.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} commands[] = {
  {"serve", hop_cmd_serve, "run an HTTP/1.1 + h2c server with the benchmark Echo service"},
  {"call", hop_cmd_call, "make one Connect / gRPC / gRPC-Web unary call"},
  {"bench", hop_cmd_bench, "measure dials, throughput and latency: HTTP/1.1 pools vs h2c"},
  {"run-service", hop_cmd_run_service, "Flyte's RecordActionEvents into SQLite or PostgreSQL"},
  {"events-proxy", hop_cmd_events_proxy, "Flyte's EventsProxyService.Record, forwarded to a run-service"},
  {"events", hop_cmd_events, "list the action events a run-service stored"},
  {"executor", hop_cmd_executor, "simulate Flyte's executor: reconcilers recording ActionEvents"},
  {"demo", hop_cmd_demo, "the event pipeline's designs side by side, measured (make run)"},
  {"pipeline-bench", hop_cmd_pipeline_bench, "run-service events/s vs the store's ceiling, group commit, proxy"},
  {"store-bench", hop_cmd_store_bench, "measure the event store's ceiling: events/s, commits/s"},
  {"idle-bench", hop_cmd_idle_bench, "RSS per idle h2c connection, server and client"},
  {"fault-bench", hop_cmd_fault_bench, "the pipeline under crashes, restarts, overload: nothing acknowledged lost"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: hopwire <command> [options]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n'hopwire <command> --help' describes a command's options;\n"
             "'hopwire --version' prints the version.\n");
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("hopwire %s\n", hop_version());
    return 0;
  }
  if (!strcmp(argv[1], "--list-commands")) { /* hidden: "NAME<TAB>SUMMARY" lines (scripts/man.sh) */
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
      printf("%s\t%s\n", commands[i].name, commands[i].summary);
    return 0;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "hopwire: unknown command '%s' (try 'hopwire --help')\n", argv[1]);
  return 2;
}
