/* hopwire CLI subcommands: each returns the process exit code (0 ok, 1 failure, 2 usage). */
#ifndef HOPWIRE_CMD_COMMANDS_H
#define HOPWIRE_CMD_COMMANDS_H

int hop_cmd_serve(int argc, char **argv);
int hop_cmd_call(int argc, char **argv);
int hop_cmd_bench(int argc, char **argv);
int hop_cmd_run_service(int argc, char **argv);
int hop_cmd_events_proxy(int argc, char **argv);
int hop_cmd_events(int argc, char **argv);
int hop_cmd_demo(int argc, char **argv);
int hop_cmd_executor(int argc, char **argv);
int hop_cmd_store_bench(int argc, char **argv);
int hop_cmd_pipeline_bench(int argc, char **argv);
int hop_cmd_fault_bench(int argc, char **argv);
int hop_cmd_idle_bench(int argc, char **argv);

#endif
