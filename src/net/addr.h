/* Address helpers for the client's dialer: numeric hosts and resolver results.
 * Pure functions, any thread. */
#ifndef HOP_NET_ADDR_H
#define HOP_NET_ADDR_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Fills *out when |host| is a numeric IPv4/IPv6 address. 0, or HOP_EINVAL if not numeric. */
int hop_addr_numeric(const char *host, uint16_t port, struct sockaddr_storage *out);
/* Copies up to |max| distinct TCP addresses from a getaddrinfo result into a new array
 * (caller frees), each with |port|. Returns the count (0 when none). HOP_ENOMEM on failure. */
int hop_addr_from_ai(const struct addrinfo *ai, uint16_t port, size_t max,
                     struct sockaddr_storage **out);
/* "1.2.3.4:80" / "[::1]:80" into |buf|. */
void hop_addr_format(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif
