/* hopwire client: an HTTP/1.1 keep-alive connection carrying one call at a time.
 * Loop thread only. */
#include <string.h>
#include <strings.h>

#include "client/internal.h"
#include "core/clock.h"

static hop_call *cur(hop_conn *conn) { return conn->calls_head; }

static int on_header(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  hop_conn *conn = ud;
  hop_call *call = cur(conn);
  if (!call) return HOP_EHTTP;
  char lname[256];
  if (nl < sizeof(lname)) { /* HTTP/1.1 names are case-insensitive; hand them out lower-case */
    for (size_t i = 0; i < nl; i++) lname[i] = (char)((n[i] >= 'A' && n[i] <= 'Z') ? n[i] + 32 : n[i]);
    n = lname;
  }
  return hdr_list_add(&call->headers_in, n, nl, v, vl);
}

static int on_headers_done(void *ud, int status) {
  hop_conn *conn = ud;
  hop_call *call = cur(conn);
  if (!call) return HOP_EHTTP;
  call->status = status;
  return HOP_OK;
}

static int on_body(void *ud, const char *p, size_t n) {
  hop_conn *conn = ud;
  hop_call *call = cur(conn);
  if (!call) return HOP_EHTTP;
  return hop_buf_append(&call->resp_body, p, n);
}

static int on_complete(void *ud, int keep_alive) {
  hop_conn *conn = ud;
  hop_call *call = cur(conn);
  if (!call) return HOP_EHTTP;
  call->end_stream = 1;
  conn->h1_keepalive = keep_alive;
  return HOP_OK;
}

static const hop_h1_resp_cbs resp_cbs = {on_header, on_headers_done, on_body, on_complete};

int h1_submit(hop_conn *conn, hop_call *call) {
  hop_client *c = conn->client;
  hop_buf req;
  hop_buf_init(&req, call->body_len + (1u << 20));
  int rv = hop_h1_request_write(&req, call->method, call->path, call->authority, call->headers,
                                call->nheaders, call->body, call->body_len);
  if (rv != HOP_OK) {
    hop_buf_free(&req);
    return rv;
  }
  call->written = 0;
  call->end_stream = 0;
  conn->h1_resp_bytes = 0;
  hop_h1_resp_init(&conn->h1, &resp_cbs, conn, c->cfg.max_response_headers,
                   strcmp(call->method, "HEAD") == 0);
  conn_attach(conn, call);
  rv = conn_write(conn, req.data, req.len);
  hop_buf_free(&req);
  if (rv != HOP_OK) {
    conn->close_pending = HOP_ECONNRESET; /* unwritten: the call is retried elsewhere */
    conn_mark_dirty(conn);
    return HOP_OK;
  }
  call->written = 1;
  return HOP_OK;
}

static int idempotent(const char *m) {
  return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0 ||
         strcmp(m, "TRACE") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;
}

/* The response is complete: hand the connection back to the pool (or close it). */
static void finish(hop_conn *conn) {
  hop_origin *o = conn->origin;
  hop_call *call = cur(conn);
  call_complete(call, HOP_OK);
  conn->h1_reused = 1;
  uint64_t now = hop_now_ms();
  if (!conn->h1_keepalive || conn->draining ||
      (conn->age_deadline_ms && now >= conn->age_deadline_ms)) {
    conn_close(conn, HOP_OK);
    return;
  }
  if (o->q_head && origin_effective_h2(o) == 0) {
    hop_call *next = o->q_head;
    origin_dequeue(o, next);
    if (h1_submit(conn, next) != HOP_OK) call_complete(next, HOP_ENOMEM);
    return;
  }
  if (origin_idle_put(o, conn) != 0) conn_close(conn, HOP_OK); /* above the idle cap */
}

int h1_on_read(hop_conn *conn, const uint8_t *p, size_t n) {
  hop_call *call = cur(conn);
  if (!call) return HOP_EHTTP; /* bytes on an idle connection: nothing asked for them */
  conn->h1_resp_bytes += n;
  long used = hop_h1_resp_feed(&conn->h1, (const char *)p, n);
  if (used < 0) {
    call_retry_or_fail(call, 0, (int)used);
    return (int)used;
  }
  if (conn->h1.done) {
    finish(conn);
    if ((size_t)used < n && conn->state != CONN_CLOSING) return HOP_EHTTP; /* unsolicited */
  }
  return HOP_OK;
}

void h1_on_eof(hop_conn *conn) {
  hop_call *call = cur(conn);
  if (!call) return;
  if (conn->h1_resp_bytes > 0 && hop_h1_resp_eof(&conn->h1) == HOP_OK && conn->h1.done) {
    conn->h1_keepalive = 0;
    finish(conn);
    return;
  }
  /* a reused keep-alive connection the server closed as we wrote: nothing came back, so an
   * idempotent request is safe to send again (the stale-connection race) */
  int unprocessed = !call->written || (conn->h1_reused && conn->h1_resp_bytes == 0 &&
                                       idempotent(call->method));
  call_retry_or_fail(call, unprocessed, HOP_ECONNRESET);
}

void h1_fail_call(hop_conn *conn, int err) {
  hop_call *call = cur(conn);
  if (call) call_retry_or_fail(call, !call->written, err);
}
