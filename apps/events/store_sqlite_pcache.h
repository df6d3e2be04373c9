/* SQLite's default page cache (pcache1) behind a thin wrapper that skips the per-transaction
 * truncate when no cached page can be at or above its limit: in a database under 1 GiB that
 * truncate otherwise scans every cached page after any transaction that balanced a b-tree
 * (store_sqlite_pcache.c says why). Pages, eviction and memory stay pcache1's. */
#ifndef HOP_EVENTS_STORE_SQLITE_PCACHE_H
#define HOP_EVENTS_STORE_SQLITE_PCACHE_H

#include <sqlite3.h>
#include <stdint.h>

/* Installs the wrapper for the whole process, once. It can only take effect before SQLite
 * initialises (sqlite3_config), so call it before the first sqlite3_open / vfs call, and
 * not while another thread may be initialising SQLite. Returns SQLITE_OK when installed,
 * otherwise SQLite's code (SQLITE_MISUSE: SQLite was already initialised) and the default
 * cache stays. Either way SQLite works the same. */
int hop_sqlite_pcache_install(void);

/* Truncates answered without scanning, process-wide. */
uint64_t hop_sqlite_pcache_skipped(void);

#endif
