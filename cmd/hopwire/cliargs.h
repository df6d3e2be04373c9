/* Flag value parsers shared by the CLI's subcommands. Each returns 0, or -1 for a bad value
 * (the caller names the flag in its message and exits 2). */
#ifndef HOPWIRE_CMD_CLIARGS_H
#define HOPWIRE_CMD_CLIARGS_H

#include <stddef.h>
#include <stdint.h>

/* A decimal number without sign. */
int hop_cli_u64(const char *s, uint64_t *out);
/* 4096, 64k, 4m, 1g (KiB/MiB/GiB multiples). */
int hop_cli_bytes(const char *s, uint64_t *out);
/* 250ms, 1.5s, 2m, 500us; a bare number is seconds. Milliseconds out. */
int hop_cli_dur_ms(const char *s, uint64_t *out);
/* "host:port", "[v6]:port", ":port" (all interfaces). */
int hop_cli_listen(const char *a, char *host, size_t hlen, uint16_t *port);
/* "on"/"off"/"1"/"0"/"true"/"false". */
int hop_cli_bool(const char *s, int *out);

#endif
