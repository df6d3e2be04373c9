/* hopwire client origins: (scheme, host, port, protocol) -> wait queue, connections, idle
 * HTTP/1.1 pool, resolver state, dial backoff, and the dial accounting. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "core/clock.h"
#include "core/log.h"
#include "net/addr.h"

#define HOP_DIAL_BACKOFF_BASE_MS 50
#define HOP_DIAL_BACKOFF_CAP_MS 2000
#define HOP_H2_DEFAULT_MAX_CONNS 16
#define HOP_MAX_ADDRS 64

/* ---- intrusive call lists --------------------------------------------------------------- */

static void list_push(hop_call **head, hop_call **tail, hop_call *call, int front) {
  if (front) {
    call->prev = NULL;
    call->next = *head;
    if (*head) (*head)->prev = call;
    else *tail = call;
    *head = call;
  } else {
    call->next = NULL;
    call->prev = *tail;
    if (*tail) (*tail)->next = call;
    else *head = call;
    *tail = call;
  }
}

static void list_remove(hop_call **head, hop_call **tail, hop_call *call) {
  if (call->prev) call->prev->next = call->next;
  else *head = call->next;
  if (call->next) call->next->prev = call->prev;
  else *tail = call->prev;
  call->prev = call->next = NULL;
}

void origin_enqueue(hop_origin *o, hop_call *call, int front) {
  hop_client *c = o->client;
  /* retries go to the front and bypass the cap: they were admitted already */
  if (!front && o->q_len >= c->cfg.max_queued_calls) {
    call_complete(call, HOP_EQUEUEFULL);
    return;
  }
  list_push(&o->q_head, &o->q_tail, call, front);
  call->state = CALL_QUEUED;
  o->q_len++;
  ST_ADD(c, st_queued, 1);
}

void origin_dequeue(hop_origin *o, hop_call *call) {
  list_remove(&o->q_head, &o->q_tail, call);
  call->state = CALL_NEW;
  o->q_len--;
  ST_SUB(o->client, st_queued, 1);
}

/* Conn call lists live here too: same links (a call is in one list at a time). */
void conn_list_push(hop_conn *conn, hop_call *call) {
  list_push(&conn->calls_head, &conn->calls_tail, call, 0);
}
void conn_list_remove(hop_conn *conn, hop_call *call) {
  list_remove(&conn->calls_head, &conn->calls_tail, call);
}

/* ---- origins ---------------------------------------------------------------------------- */

static void on_backoff(uv_timer_t *t) {
  hop_origin *o = t->data;
  o->backoff_armed = 0;
  origin_pump(o);
  client_kick(o->client);
}

hop_origin *origin_get(hop_client *c, const char *host, uint16_t port, hop_http_mode mode) {
  for (hop_origin *o = c->origins; o; o = o->next)
    if (o->port == port && o->mode == mode && strcmp(o->host, host) == 0) return o;
  hop_origin *o = calloc(1, sizeof(*o));
  if (!o) return NULL;
  o->host = strdup(host);
  if (!o->host) {
    free(o);
    return NULL;
  }
  o->client = c;
  o->port = port;
  o->mode = mode;
  struct sockaddr_storage ss;
  if (hop_addr_numeric(host, port, &ss) == HOP_OK) {
    o->addrs = malloc(sizeof(ss));
    if (!o->addrs) {
      free(o->host);
      free(o);
      return NULL;
    }
    o->addrs[0] = ss;
    o->naddrs = 1;
    o->numeric = 1;
  }
  uv_timer_init(c->loop, &o->backoff_timer);
  o->backoff_timer.data = o;
  c->open_handles++; /* closed in origin_shutdown */
  o->next = c->origins;
  c->origins = o;
  return o;
}

int origin_effective_h2(const hop_origin *o) {
  return o->mode == HOP_HTTP_H2C || (o->mode == HOP_HTTP_AUTO && !o->learned_h1);
}

static void backoff_handle_closed(uv_handle_t *h) {
  hop_origin *o = h->data;
  client_handle_done(o->client);
}

void origin_shutdown(hop_origin *o) {
  while (o->q_head) call_complete(o->q_head, HOP_ESHUTDOWN);
  while (o->r_head) call_complete(o->r_head, HOP_ESHUTDOWN);
  while (o->conns) conn_close(o->conns, HOP_ESHUTDOWN);
  if (o->resolving) uv_cancel((uv_req_t *)&o->gai);
  uv_timer_stop(&o->backoff_timer);
  uv_close((uv_handle_t *)&o->backoff_timer, backoff_handle_closed);
}

void origin_free(hop_origin *o) {
  free(o->addrs);
  free(o->host);
  free(o);
}

/* Calls waiting out a retry backoff are kept on the origin so shutdown can find them. */
void origin_retry_wait_add(hop_origin *o, hop_call *call) {
  list_push(&o->r_head, &o->r_tail, call, 0);
}
void origin_retry_wait_remove(hop_origin *o, hop_call *call) {
  list_remove(&o->r_head, &o->r_tail, call);
}

/* ---- resolver ---------------------------------------------------------------------------- */

static void fail_queue(hop_origin *o, int err) {
  while (o->q_head) call_complete(o->q_head, err);
}

void origin_backoff(hop_origin *o) {
  o->dial_failures++;
  unsigned n = o->dial_failures - 1;
  uint64_t ceil = HOP_DIAL_BACKOFF_BASE_MS;
  while (n-- > 0 && ceil < HOP_DIAL_BACKOFF_CAP_MS) ceil *= 2;
  if (ceil > HOP_DIAL_BACKOFF_CAP_MS) ceil = HOP_DIAL_BACKOFF_CAP_MS;
  /* half fixed, half jitter: spreads reconnects without ever hammering at 0 ms */
  o->backoff_until_ms = hop_now_ms() + ceil / 2 + hop_rand_below(ceil / 2 + 1);
}

static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET)
    return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                  &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr)) == 0;
  if (a->ss_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
  return 0;
}

/* An address left the name (a pod of a headless service went away): its connections take
 * no new calls and close once their calls are done, so new connections go to the rest. */
static void drain_departed(hop_origin *o) {
  hop_conn *k = o->conns;
  while (k) {
    hop_conn *next = k->next; /* closing an idle connection unlinks it */
    int kept = 0;
    for (size_t i = 0; i < o->naddrs && !kept; i++) kept = same_host(&k->addr, &o->addrs[i]);
    if (!kept && k->state != CONN_CLOSING && !k->draining) {
      char a[64];
      hop_addr_format(&k->addr, a, sizeof(a));
      hop_log_info("client: %s no longer resolves to %s; draining its connection", o->host, a);
      k->draining = 1;
      if (k->state < CONN_READY || (k->proto == HOP_PROTO_H1 && k->h1_idle)) conn_close(k, HOP_OK);
      else conn_mark_dirty(k); /* h2: GOAWAY and close once idle; h1: close after the call */
    }
    k = next;
  }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  hop_origin *o = req->data;
  hop_client *c = o->client;
  o->resolving = 0;
  if (!c->shutting_down) {
    struct sockaddr_storage *v = NULL;
    int n = status == 0 ? hop_addr_from_ai(res, o->port, HOP_MAX_ADDRS, &v) : 0;
    if (n > 0) {
      free(o->addrs);
      o->addrs = v;
      o->naddrs = (size_t)n;
      o->resolved_ms = hop_now_ms();
      drain_departed(o);
    } else if (o->naddrs == 0) {
      hop_log_info("client: resolving %s failed: %s", o->host, status ? uv_strerror(status) : "no address");
      origin_backoff(o);
      fail_queue(o, HOP_ERESOLVE);
    }
    origin_pump(o);
    client_kick(c);
  }
  if (res) uv_freeaddrinfo(res);
  client_handle_done(c);
}

static void resolve_start(hop_origin *o) {
  hop_client *c = o->client;
  if (o->resolving || o->numeric) return;
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  o->gai.data = o;
  int rv = uv_getaddrinfo(c->loop, &o->gai, on_resolved, o->host, NULL, &hints);
  if (rv) {
    if (o->naddrs == 0) {
      origin_backoff(o);
      fail_queue(o, HOP_ERESOLVE);
    }
    return;
  }
  o->resolving = 1;
  c->open_handles++;
}

/* From the client's tick: an origin in use resolves its name again every
 * resolve_interval_ms in the background, so a changed address list is known before the
 * next dial needs it (not only after a dial with the stale list). */
void origin_tick(hop_origin *o, uint64_t now_ms) {
  uint64_t every = o->client->cfg.resolve_interval_ms;
  if (!every || o->numeric || o->naddrs == 0 || (!o->conns && !o->q_head)) return;
  if (now_ms - o->resolved_ms >= every) resolve_start(o);
}

/* ---- dial accounting ----------------------------------------------------------------------- */

int origin_dial_failed(hop_origin *o, int err) {
  /* several addresses (dual stack, a headless service): try the next one before giving up */
  if (o->naddrs > 1 && ++o->addr_failures < o->naddrs) return 0;
  o->addr_failures = 0;
  origin_backoff(o);
  int live = 0;
  for (hop_conn *k = o->conns; k; k = k->next)
    if (k->state != CONN_CLOSING && !k->draining) live++;
  if (live) return 0;
  fail_queue(o, err); /* nothing else can serve them: the waiting calls learn the cause now */
  return 1;
}

void origin_dial_ok(hop_origin *o) {
  o->dial_failures = 0;
  o->addr_failures = 0;
}

void origin_learned_limit(hop_origin *o, uint32_t limit) { o->limit = limit ? limit : 1; }

void origin_learned_h1(hop_origin *o) {
  if (o->mode != HOP_HTTP_AUTO || o->learned_h1) return;
  hop_log_info("client: %s:%u answered HTTP/1.1; using the keep-alive pool", o->host, o->port);
  o->learned_h1 = 1;
  o->limit = 0;
}

static void dial_if_needed(hop_origin *o) {
  hop_client *c = o->client;
  if (o->q_len == 0) return;
  uint64_t now = hop_now_ms();
  if (o->backoff_until_ms > now) {
    if (!o->backoff_armed) {
      o->backoff_armed = 1;
      uv_timer_start(&o->backoff_timer, on_backoff, o->backoff_until_ms - now, 0);
    }
    return;
  }
  if (!o->numeric) {
    if (o->naddrs == 0) {
      resolve_start(o);
      return;
    }
    if (c->cfg.resolve_interval_ms && now - o->resolved_ms >= c->cfg.resolve_interval_ms)
      resolve_start(o); /* in the background; dial with what we have */
  }
  int h2 = origin_effective_h2(o);
  size_t pending = 0, open = 0;
  for (hop_conn *k = o->conns; k; k = k->next) {
    if (k->state == CONN_CLOSING) continue;
    if (k->state < CONN_READY) pending++;
    if (!k->draining || c->cfg.strict_max_conns) open++;
  }
  size_t need;
  size_t cap = c->cfg.max_conns_per_origin;
  if (h2) {
    if (cap == 0) cap = HOP_H2_DEFAULT_MAX_CONNS;
    if (o->limit == 0) {
      /* first contact: one dial, then wait for its SETTINGS before deciding on more */
      if (pending) return;
      need = 1;
    } else {
      size_t expected = pending * o->limit;
      if (o->q_len <= expected) return;
      need = (o->q_len - expected + o->limit - 1) / o->limit;
    }
  } else {
    if (o->q_len <= pending) return;
    need = o->q_len - pending;
  }
  if (cap) need = open >= cap ? 0 : (need < cap - open ? need : cap - open);
  for (size_t i = 0; i < need; i++)
    if (conn_dial(o, h2 ? HOP_PROTO_H2C : HOP_PROTO_H1) != HOP_OK) break;
}

void origin_schedule_pump(hop_origin *o) {
  if (o->pump_scheduled) return;
  hop_client *c = o->client;
  o->pump_scheduled = 1;
  o->pump_next = c->pump_list;
  c->pump_list = o;
  client_kick(c);
}

void origin_pump(hop_origin *o) {
  hop_client *c = o->client;
  if (c->shutting_down) return;
  if (origin_effective_h2(o)) {
    for (hop_conn *k = o->conns; k && o->q_head; k = k->next) {
      if (k->proto != HOP_PROTO_H2C || k->state != CONN_READY || k->draining || k->close_pending)
        continue;
      while (o->q_head && k->nactive < k->limit) {
        hop_call *call = o->q_head;
        origin_dequeue(o, call);
        int rv = h2_submit(k, call);
        if (rv != HOP_OK) {
          call_complete(call, rv);
          break;
        }
      }
    }
  } else {
    while (o->q_head && o->idle_head) {
      hop_conn *k = o->idle_head;
      origin_idle_remove(o, k);
      hop_call *call = o->q_head;
      origin_dequeue(o, call);
      int rv = h1_submit(k, call);
      if (rv != HOP_OK) call_complete(call, rv);
    }
  }
  dial_if_needed(o);
}

/* ---- HTTP/1.1 idle pool --------------------------------------------------------------------- */

int origin_idle_put(hop_origin *o, hop_conn *conn) {
  if (o->nidle >= o->client->cfg.max_idle_h1_per_origin) return -1;
  conn->idle_next = NULL;
  conn->idle_prev = o->idle_tail;
  if (o->idle_tail) o->idle_tail->idle_next = conn;
  else o->idle_head = conn;
  o->idle_tail = conn;
  conn->h1_idle = 1;
  conn->idle_since_ms = hop_now_ms();
  o->nidle++;
  return 0;
}

void origin_idle_remove(hop_origin *o, hop_conn *conn) {
  if (!conn->h1_idle) return;
  if (conn->idle_prev) conn->idle_prev->idle_next = conn->idle_next;
  else o->idle_head = conn->idle_next;
  if (conn->idle_next) conn->idle_next->idle_prev = conn->idle_prev;
  else o->idle_tail = conn->idle_prev;
  conn->idle_prev = conn->idle_next = NULL;
  conn->h1_idle = 0;
  o->nidle--;
}
