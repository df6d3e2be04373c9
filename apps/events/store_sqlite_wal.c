/* A SQLite VFS shim that coalesces the writer's WAL appends (see store_sqlite_wal.h).
 *
 * SQLite writes a WAL frame as two pwrite()s, a 24-byte header then the page, so a
 * transaction of a few hundred rows costs ~600 system calls, each touching two unaligned
 * page-cache pages; on this machine that was ~1.8 ms of CPU per 280-frame transaction
 * against ~0.5 ms for the same bytes in one write (measured with a standalone loop of
 * pwrite + fdatasync). The shim keeps contiguous WAL writes in a buffer and hands them to
 * the real file in one write before anything can depend on them: before xSync (the COMMIT's
 * durability point under synchronous=FULL/EXTRA), xRead, xTruncate, xFileSize, xClose, a
 * write elsewhere in the file, or when the buffer is full. Every other call, and every
 * file that is not a WAL, goes straight to the default VFS. */
#include "events/store_sqlite_wal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Bytes gathered before a write is forced: 30 frames of 4 KiB pages. Under 128 KiB because
 * the unix VFS writes at most 0x1ffff bytes per call (seekAndWrite masks the count) and
 * reports a longer write that ends short as SQLITE_FULL. */
#define WALBUF_CAP (124 * 1024)

typedef struct walbuf_file {
  sqlite3_file base;  /* pMethods = &walbuf_io */
  sqlite3_file *real; /* the default VFS's file, allocated right after this struct */
  int wal;            /* a WAL file: writes are gathered */
  char *buf;          /* WALBUF_CAP bytes once the first write arrives; NULL: unbuffered */
  size_t len;         /* bytes gathered */
  sqlite3_int64 at;   /* file offset of buf[0] */
} walbuf_file;

static sqlite3_vfs walbuf_vfs;
static sqlite3_vfs *real_vfs;
static int registered_rc = SQLITE_ERROR;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t n_gathered, n_written; /* hop_sqlite_walbuf_counts */

static int flush(walbuf_file *f) {
  if (!f->len) return SQLITE_OK;
  int rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->at);
  atomic_fetch_add_explicit(&n_written, 1, memory_order_relaxed);
  f->len = 0; /* on failure the bytes are dropped with the transaction SQLite rolls back */
  return rc;
}

static int wb_close(sqlite3_file *pf) {
  walbuf_file *f = (walbuf_file *)pf;
  int rc = flush(f);
  int crc = f->real->pMethods->xClose(f->real);
  free(f->buf);
  f->buf = NULL;
  return rc != SQLITE_OK ? rc : crc;
}

static int wb_read(sqlite3_file *pf, void *p, int n, sqlite3_int64 off) {
  walbuf_file *f = (walbuf_file *)pf;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, p, n, off);
}

static int wb_write(sqlite3_file *pf, const void *p, int n, sqlite3_int64 off) {
  walbuf_file *f = (walbuf_file *)pf;
  if (!f->wal || n <= 0) return f->real->pMethods->xWrite(f->real, p, n, off);
  if (f->len && (off != f->at + (sqlite3_int64)f->len || (size_t)n > WALBUF_CAP - f->len)) {
    int rc = flush(f);
    if (rc != SQLITE_OK) return rc;
  }
  if (!f->buf && !(f->buf = malloc(WALBUF_CAP))) f->wal = 0; /* no memory: unbuffered */
  if (!f->wal || (size_t)n > WALBUF_CAP) return f->real->pMethods->xWrite(f->real, p, n, off);
  if (!f->len) f->at = off;
  atomic_fetch_add_explicit(&n_gathered, 1, memory_order_relaxed);
  memcpy(f->buf + f->len, p, (size_t)n);
  f->len += (size_t)n;
  return SQLITE_OK;
}

static int wb_truncate(sqlite3_file *pf, sqlite3_int64 size) {
  walbuf_file *f = (walbuf_file *)pf;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *pf, int flags) {
  walbuf_file *f = (walbuf_file *)pf;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wb_file_size(sqlite3_file *pf, sqlite3_int64 *size) {
  walbuf_file *f = (walbuf_file *)pf;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

/* The rest pass straight through. */
#define REAL(pf) (((walbuf_file *)(pf))->real)
static int wb_lock(sqlite3_file *pf, int l) { return REAL(pf)->pMethods->xLock(REAL(pf), l); }
static int wb_unlock(sqlite3_file *pf, int l) { return REAL(pf)->pMethods->xUnlock(REAL(pf), l); }
static int wb_check_reserved(sqlite3_file *pf, int *out) {
  return REAL(pf)->pMethods->xCheckReservedLock(REAL(pf), out);
}
static int wb_file_control(sqlite3_file *pf, int op, void *arg) {
  return REAL(pf)->pMethods->xFileControl(REAL(pf), op, arg);
}
static int wb_sector_size(sqlite3_file *pf) { return REAL(pf)->pMethods->xSectorSize(REAL(pf)); }
static int wb_device_chars(sqlite3_file *pf) {
  return REAL(pf)->pMethods->xDeviceCharacteristics(REAL(pf));
}
static int wb_shm_map(sqlite3_file *pf, int pg, int sz, int ext, void volatile **pp) {
  return REAL(pf)->pMethods->xShmMap(REAL(pf), pg, sz, ext, pp);
}
static int wb_shm_lock(sqlite3_file *pf, int off, int n, int flags) {
  return REAL(pf)->pMethods->xShmLock(REAL(pf), off, n, flags);
}
static void wb_shm_barrier(sqlite3_file *pf) { REAL(pf)->pMethods->xShmBarrier(REAL(pf)); }
static int wb_shm_unmap(sqlite3_file *pf, int del) {
  return REAL(pf)->pMethods->xShmUnmap(REAL(pf), del);
}
static int wb_fetch(sqlite3_file *pf, sqlite3_int64 off, int n, void **pp) {
  walbuf_file *f = (walbuf_file *)pf;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, off, n, pp);
}
static int wb_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p) {
  return REAL(pf)->pMethods->xUnfetch(REAL(pf), off, p);
}

static const sqlite3_io_methods walbuf_io = {
    3,           wb_close,        wb_read,         wb_write,           wb_truncate,
    wb_sync,     wb_file_size,    wb_lock,         wb_unlock,          wb_check_reserved,
    wb_file_control, wb_sector_size, wb_device_chars, wb_shm_map,      wb_shm_lock,
    wb_shm_barrier, wb_shm_unmap, wb_fetch,        wb_unfetch,
};

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags,
                   int *out_flags) {
  (void)vfs;
  walbuf_file *f = (walbuf_file *)pf;
  memset(f, 0, sizeof(*f));
  f->real = (sqlite3_file *)(f + 1);
  int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    /* SQLite calls xClose only when pMethods is set; close what the real open left. */
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    pf->pMethods = NULL;
    return rc;
  }
  /* Version 3 methods throughout: the unix VFS's files are version 3. */
  if (f->real->pMethods->iVersion < 3) {
    f->real->pMethods->xClose(f->real);
    pf->pMethods = NULL;
    return SQLITE_CANTOPEN;
  }
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  pf->pMethods = &walbuf_io;
  return SQLITE_OK;
}

static void do_register(void) {
  real_vfs = sqlite3_vfs_find(NULL);
  if (!real_vfs) return;
  walbuf_vfs = *real_vfs; /* every other method, and its pAppData, stay the default's */
  walbuf_vfs.pNext = NULL;
  walbuf_vfs.zName = HOP_SQLITE_WALBUF_VFS;
  walbuf_vfs.szOsFile = (int)sizeof(walbuf_file) + real_vfs->szOsFile;
  walbuf_vfs.xOpen = wb_open;
  registered_rc = sqlite3_vfs_register(&walbuf_vfs, 0);
}

int hop_sqlite_walbuf_register(void) {
  pthread_once(&register_once, do_register);
  return registered_rc;
}

void hop_sqlite_walbuf_counts(uint64_t *gathered, uint64_t *written) {
  *gathered = atomic_load_explicit(&n_gathered, memory_order_relaxed);
  *written = atomic_load_explicit(&n_written, memory_order_relaxed);
}
