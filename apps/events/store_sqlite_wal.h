/* A SQLite VFS shim over the default VFS that gathers contiguous WAL writes and issues them
 * as one write before the WAL is synced, read, truncated, sized or closed. For the store's
 * writer connection under synchronous=FULL or EXTRA only: there every COMMIT syncs the WAL
 * before other connections can see its frames, so nothing another connection reads, and
 * nothing acknowledged, depends on bytes still in the buffer. Under NORMAL or OFF the frames
 * would be published unsynced and must not be buffered: open those with the default VFS. */
#ifndef HOP_EVENTS_STORE_SQLITE_WAL_H
#define HOP_EVENTS_STORE_SQLITE_WAL_H

#include <sqlite3.h>
#include <stdint.h>

#define HOP_SQLITE_WALBUF_VFS "hopwire-walbuf"

/* Registers the shim (not as the default VFS) once per process; thread-safe. Returns
 * SQLITE_OK, or the SQLite code why not (then open with the default VFS). */
int hop_sqlite_walbuf_register(void);

/* Process-wide: WAL writes gathered into buffers, and the writes that carried them out. */
void hop_sqlite_walbuf_counts(uint64_t *gathered, uint64_t *written);

#endif
