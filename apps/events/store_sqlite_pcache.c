/* SQLite's default page cache, wrapped to skip the page-cache truncation that finds nothing
 * to drop (see store_sqlite_pcache.h).
 *
 * Why: every transaction ends with a truncate of the page cache to the database size
 * (pager_end_transaction). pcache1 remembers the largest page number it ever held (iMaxKey)
 * and, when that is far above the limit, scans its whole hash table. B-tree balancing swaps
 * two pages' numbers through a temporary number, the locking page (1 GiB / page size + 1),
 * which sets iMaxKey to 262145 for 4 KiB pages; so in a database under 1 GiB every
 * transaction that split a page walked every cached page: with the store's 64 MiB cache,
 * 4-7 % of the writer thread's CPU in the pipeline (perf, debug build of 3.40.1). The
 * wrapper keeps its own bound on the page numbers present, the temporary one tracked
 * apart, and forwards a truncate only when a page may sit at or above the limit. */
#include "events/store_sqlite_pcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* SQLite's PENDING_BYTE (os.h): the 1 GiB lock byte; its page is never a database page. */
#define LOCK_BYTE 0x40000000u

typedef struct wrap_cache {
  sqlite3_pcache *real;
  unsigned lock_page; /* the temporary page number balancing swaps through */
  unsigned max_key;   /* no page other than lock_page has a larger number */
  int lock_page_used; /* a page may be keyed lock_page now */
} wrap_cache;

static sqlite3_pcache_methods2 real_pc;
static sqlite3_pcache_methods2 wrap_pc;
static int install_rc = SQLITE_ERROR;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t n_skipped; /* hop_sqlite_pcache_skipped */

static sqlite3_pcache *pc_create(int sz_page, int sz_extra, int purgeable) {
  wrap_cache *w = calloc(1, sizeof(*w));
  if (!w) return NULL;
  w->real = real_pc.xCreate(sz_page, sz_extra, purgeable);
  if (!w->real) {
    free(w);
    return NULL;
  }
  w->lock_page = sz_page > 0 ? LOCK_BYTE / (unsigned)sz_page + 1 : 0;
  return (sqlite3_pcache *)w;
}

static void pc_cachesize(sqlite3_pcache *p, int n) {
  real_pc.xCachesize(((wrap_cache *)p)->real, n);
}

static int pc_pagecount(sqlite3_pcache *p) { return real_pc.xPagecount(((wrap_cache *)p)->real); }

static void note_key(wrap_cache *w, unsigned key) {
  if (key == w->lock_page) w->lock_page_used = 1;
  else if (key > w->max_key) w->max_key = key;
}

static sqlite3_pcache_page *pc_fetch(sqlite3_pcache *p, unsigned key, int create) {
  wrap_cache *w = (wrap_cache *)p;
  sqlite3_pcache_page *pg = real_pc.xFetch(w->real, key, create);
  if (pg) note_key(w, key);
  return pg;
}

static void pc_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard) {
  real_pc.xUnpin(((wrap_cache *)p)->real, pg, discard);
}

static void pc_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned old_key,
                     unsigned new_key) {
  wrap_cache *w = (wrap_cache *)p;
  real_pc.xRekey(w->real, pg, old_key, new_key);
  if (old_key == w->lock_page) w->lock_page_used = 0; /* one page per number */
  note_key(w, new_key);
}

static void pc_truncate(sqlite3_pcache *p, unsigned limit) {
  wrap_cache *w = (wrap_cache *)p;
  if (!w->lock_page_used && limit > w->max_key) {
    atomic_fetch_add_explicit(&n_skipped, 1, memory_order_relaxed);
    return; /* nothing at or above |limit|: the real truncate would only scan */
  }
  real_pc.xTruncate(w->real, limit);
  if (limit <= w->lock_page) w->lock_page_used = 0;
  if (limit == 0) w->max_key = 0;
  else if (limit - 1 < w->max_key) w->max_key = limit - 1;
}

static void pc_destroy(sqlite3_pcache *p) {
  wrap_cache *w = (wrap_cache *)p;
  real_pc.xDestroy(w->real);
  free(w);
}

static void pc_shrink(sqlite3_pcache *p) { real_pc.xShrink(((wrap_cache *)p)->real); }

static int pc_init(void *arg) { return real_pc.xInit ? real_pc.xInit(arg) : SQLITE_OK; }

static void pc_shutdown(void *arg) {
  if (real_pc.xShutdown) real_pc.xShutdown(arg);
}

static void do_install(void) {
  /* Only before SQLite initialises (sqlite3_config's rule); later it stays as it is. */
  if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &real_pc) != SQLITE_OK || real_pc.iVersion < 1)
    return;
  wrap_pc = real_pc; /* pArg stays the default's */
  wrap_pc.xInit = pc_init;
  wrap_pc.xShutdown = pc_shutdown;
  wrap_pc.xCreate = pc_create;
  wrap_pc.xCachesize = pc_cachesize;
  wrap_pc.xPagecount = pc_pagecount;
  wrap_pc.xFetch = pc_fetch;
  wrap_pc.xUnpin = pc_unpin;
  wrap_pc.xRekey = pc_rekey;
  wrap_pc.xTruncate = pc_truncate;
  wrap_pc.xDestroy = pc_destroy;
  wrap_pc.xShrink = pc_shrink;
  install_rc = sqlite3_config(SQLITE_CONFIG_PCACHE2, &wrap_pc);
}

int hop_sqlite_pcache_install(void) {
  pthread_once(&install_once, do_install);
  return install_rc;
}

uint64_t hop_sqlite_pcache_skipped(void) {
  return atomic_load_explicit(&n_skipped, memory_order_relaxed);
}
