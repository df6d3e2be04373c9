/* h2: hop_h2_mem, nghttp2's allocator with a per-session page region: a client and a server
 * session built on it exchange requests, with the region's pages given back between rounds
 * (what an idle connection gets), and the sessions go on as if nothing happened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "h2/h2_mem.h"

typedef struct peer {
  hop_h2_mem mem;
  nghttp2_session *s;
  int ob_idle;
  int closed; /* streams closed */
} peer;

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud) {
  ((peer *)ud)->closed++;
  return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  /* Server: answer every request with a big header block (CONTINUATION frames: several
   * frame buffer chunks) once it is complete. */
  if (nghttp2_session_check_server_session(s) && f->hd.type == NGHTTP2_HEADERS &&
      (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    static uint8_t big[20000];
    memset(big, 'v', sizeof(big));
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"x-big", big, 5, sizeof(big), NGHTTP2_NV_FLAG_NO_INDEX},
    };
    assert_int_equal(nghttp2_submit_response(s, f->hd.stream_id, nv, 2, NULL), 0);
  }
  return 0;
}

/* Moves everything |from| has to send into |to|, one mem_send chunk at a time. */
static int pump(peer *from, peer *to) {
  int moved = 0;
  for (;;) {
    const uint8_t *d;
    ssize_t n = nghttp2_session_mem_send(from->s, &d);
    assert_true(n >= 0);
    if (n == 0) {
      from->ob_idle = 1;
      return moved;
    }
    from->ob_idle = 0;
    from->mem.frames_dirty = 1;
    assert_int_equal(nghttp2_session_mem_recv(to->s, d, (size_t)n), n);
    moved = 1;
  }
}

static void exchange(peer *c, peer *sv) {
  while (pump(c, sv) | pump(sv, c)) {}
}

static void peer_new(peer *p, hop_pool *pool, int server, nghttp2_session_callbacks *cb) {
  memset(p, 0, sizeof(*p));
  nghttp2_mem mem = hop_h2_mem_init(&p->mem, pool);
  assert_non_null(p->mem.base); /* mmap works here */
  assert_non_null(hop_h2_mem_zalloc(&p->mem, 2048));
  int rv = server ? nghttp2_session_server_new3(&p->s, cb, p, NULL, &mem)
                  : nghttp2_session_client_new3(&p->s, cb, p, NULL, &mem);
  hop_h2_mem_opened(&p->mem);
  assert_int_equal(rv, 0);
  assert_true(p->mem.frames_len >= 16384); /* the frame buffer is in the region */
  assert_int_equal(nghttp2_submit_settings(p->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static size_t resident_pages(const hop_h2_mem *m) {
  unsigned char vec[HOP_H2_REGION / 4096];
  assert_int_equal(mincore(m->base, HOP_H2_REGION, vec), 0);
  size_t n = 0;
  for (size_t i = 0; i < sizeof(vec); i++) n += vec[i] & 1;
  return n;
}

static void sessions_survive_releases(void **state) {
  (void)state;
  if (sysconf(_SC_PAGESIZE) != 4096) skip();
  hop_pool pool;
  hop_pool_init(&pool, 1 << 20);
  nghttp2_session_callbacks *cb;
  assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
  peer c, sv;
  peer_new(&c, &pool, 0, cb);
  peer_new(&sv, &pool, 1, cb);
  exchange(&c, &sv);
  nghttp2_nv nv[] = {
      {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":path", (uint8_t *)"/x", 5, 2, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":authority", (uint8_t *)"a", 10, 1, NGHTTP2_NV_FLAG_NONE},
  };
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 3; i++)
      assert_true(nghttp2_submit_request(c.s, NULL, nv, 4, NULL, NULL) > 0);
    exchange(&c, &sv);
    assert_int_equal(c.closed, 3 * (round + 1));
    assert_int_equal(sv.closed, 3 * (round + 1));
    /* Idle: both sent everything (their last mem_send returned 0). */
    assert_true(c.ob_idle && sv.ob_idle);
    size_t before = resident_pages(&sv.mem);
    hop_h2_mem_release(&c.mem);
    hop_h2_mem_release(&sv.mem);
    assert_true(resident_pages(&sv.mem) < before); /* the frame buffer went at least */
    assert_int_equal(sv.mem.frames_dirty, 0);
    hop_h2_mem_release(&sv.mem); /* nothing written since: a no-op */
  }
  nghttp2_session_del(c.s);
  nghttp2_session_del(sv.s);
  hop_h2_mem_fini(&c.mem);
  hop_h2_mem_fini(&sv.mem);
  assert_null(c.mem.base);
  nghttp2_session_callbacks_del(cb);
  hop_pool_drain(&pool);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sessions_survive_releases),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
