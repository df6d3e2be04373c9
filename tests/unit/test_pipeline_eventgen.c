/* The event generator: its bytes are pinned (digests of many events under several seeds and
 * configs, computed from the protoc-c encoder it started with), every event decodes with the
 * key hop_evgen_key_of names, and the hand-written encoder gives exactly the bytes of the
 * protoc-c reference (hop_evgen_encode_protoc) for every event tried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events/codec.h"
#include "events/eventgen.h"

typedef struct gen_case {
  const char *what;
  uint64_t seed;
  uint32_t fail_pct, abort_pct, actions_per_run, projects;
  int64_t base_unix_s;
  uint64_t first_action; /* actions first_action .. first_action + count - 1, all events */
  unsigned count;
  uint64_t digest; /* FNV-1a 64 of every event, reported time 0 then 1777000000123456 */
} gen_case;

static void config_of(const gen_case *c, hop_evgen_config *cfg) {
  hop_evgen_config_init(cfg);
  cfg->seed = c->seed;
  cfg->fail_pct = c->fail_pct;
  cfg->abort_pct = c->abort_pct;
  cfg->actions_per_run = c->actions_per_run;
  cfg->projects = c->projects;
  cfg->base_unix_s = c->base_unix_s;
}

static const gen_case cases[] = {
    {"defaults", 1, 10, 5, 16, 4, 1767225600, 0, 2000, 0x774a7cf648766b53ull},
    {"another seed", 0xdeadbeefcafe, 10, 5, 16, 4, 1767225600, 0, 500, 0xde46ac18c455f873ull},
    {"all fail, one action per run", 7, 100, 0, 1, 1, 1767225600, 0, 300, 0xc5758200ecb92ad7ull},
    {"aborts, many projects", 99, 0, 60, 3, 1000, 1767225600, 1000000, 300, 0xfffc791dec419563ull},
    {"0 runs and projects (1)", 3, 20, 20, 0, 0, 1767225600, 77, 200, 0x7a518847e242ab8dull},
    {"huge indexes, old base", UINT64_MAX, 10, 5, 4000000000u, 4000000000u, 0,
     1000000000000ull, 200, 0x19dc31860a662a11ull},
};

static const int64_t reported[] = {0, 1777000000123456};

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static uint64_t digest_of(const gen_case *c) {
  hop_evgen_config cfg;
  config_of(c, &cfg);
  uint64_t h = 0xcbf29ce484222325ull;
  uint8_t buf[HOP_EVGEN_MAX_EVENT_BYTES];
  for (size_t r = 0; r < sizeof reported / sizeof reported[0]; r++)
    for (uint64_t a = c->first_action; a < c->first_action + c->count; a++)
      for (unsigned s = 0; s < hop_evgen_action_events(&cfg, a); s++) {
        int n = hop_evgen_encode(&cfg, a, s, reported[r], buf, sizeof buf);
        assert_true(n > 0);
        h = fnv(h, buf, (size_t)n);
      }
  return h;
}

/* The bytes did not change: a change to the encoder that alters one byte of one event fails
 * here (regenerate the digests only for an intended change of the events). */
static void bytes_pinned(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t d = digest_of(&cases[i]);
    if (d != cases[i].digest)
      fail_msg("%s: digest 0x%016llxull, pinned 0x%016llxull", cases[i].what,
               (unsigned long long)d, (unsigned long long)cases[i].digest);
  }
}

/* Every event decodes, 400-700 bytes, with the key hop_evgen_key_of gives. */
static void events_decode_to_their_keys(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    hop_evgen_config cfg;
    config_of(&cases[i], &cfg);
    for (uint64_t a = cases[i].first_action; a < cases[i].first_action + 50; a++)
      for (unsigned s = 0; s < hop_evgen_action_events(&cfg, a); s++) {
        uint8_t body[HOP_EVGEN_MAX_EVENT_BYTES + 3];
        int n = hop_evgen_encode(&cfg, a, s, 0, body + 3, HOP_EVGEN_MAX_EVENT_BYTES);
        assert_true(n >= 400 && n <= 700);
        body[0] = 0x0a;
        body[1] = (uint8_t)(n | 0x80);
        body[2] = (uint8_t)(n >> 7);
        hop_ev_batch b;
        char err[256];
        if (hop_ev_decode(body, (size_t)n + 3, 0, &b, err, sizeof err))
          fail_msg("%s: action %llu event %u: %s", cases[i].what, (unsigned long long)a, s, err);
        assert_int_equal(b.n, 1);
        hop_evgen_key k;
        assert_int_equal(hop_evgen_key_of(&cfg, a, s, &k), 0);
        assert_string_equal(b.rows[0].project, k.project);
        assert_string_equal(b.rows[0].domain, k.domain);
        assert_string_equal(b.rows[0].run_name, k.run_name);
        assert_string_equal(b.rows[0].name, k.name);
        assert_int_equal(b.rows[0].attempt, k.attempt);
        assert_int_equal(b.rows[0].phase, k.phase);
        assert_int_equal(b.rows[0].version, k.version);
        if (k.error_kind >= 0)
          assert_string_equal(b.rows[0].error_kind, hop_ev_error_kind_name(k.error_kind));
        else
          assert_null(b.rows[0].error_kind);
        hop_ev_batch_free(&b);
      }
  }
}

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The hand-written encoder (and the same with an action prepared once, its events in order
 * or shuffled across the attempts) against protoc-c's pack of the same messages: random
 * seeds and configs (every plan, 1 to 2^32-1 actions per run and projects, times before 1970 so
 * Timestamps get negative seconds and nanos), small and huge action indexes, every event,
 * reported times 0, +-1, INT64_MIN/MAX and random; then every buffer size around the length
 * (both refuse one byte short, both fit exactly). */
static void same_bytes_as_protoc(void **state) {
  (void)state;
  uint64_t rng = 42, events = 0;
  const int64_t fixed[] = {0, 1, -1, 999999, -999999, INT64_MAX, INT64_MIN};
  for (int round = 0; round < 400; round++) {
    hop_evgen_config cfg;
    hop_evgen_config_init(&cfg);
    if (round) { /* round 0: the defaults */
      cfg.seed = splitmix(&rng);
      cfg.fail_pct = (uint32_t)(splitmix(&rng) % 101);
      cfg.abort_pct = (uint32_t)(splitmix(&rng) % 101);
      uint64_t r = splitmix(&rng);
      cfg.actions_per_run = r & 1 ? (uint32_t)(r >> 32) : (uint32_t)(r >> 32) % 40;
      r = splitmix(&rng);
      cfg.projects = r & 1 ? (uint32_t)(r >> 32) : (uint32_t)(r >> 32) % 10;
      cfg.base_unix_s = (int64_t)(splitmix(&rng) % 6000000000ull) - 2000000000;
    }
    for (int j = 0; j < 8; j++) {
      uint64_t r = splitmix(&rng);
      uint64_t a = j < 4 ? (uint64_t)(round * 8 + j) : r % 1000000000000ull;
      hop_evgen_action act; /* prepared once, its events asked in a shuffled order */
      hop_evgen_action_init(&act, &cfg, a);
      unsigned nev = hop_evgen_action_events(&cfg, a), start = (unsigned)(r >> 40) % nev;
      assert_int_equal(act.nev, nev);
      for (unsigned k = 0; k < nev; k++) {
        unsigned sq = r >> 60 & 1 ? (start + k * 3) % nev : k; /* 3 is prime to 4 and 8 */
        int64_t rep = j < 7 ? fixed[j] : (int64_t)splitmix(&rng);
        uint8_t fast[HOP_EVGEN_MAX_EVENT_BYTES], ref[HOP_EVGEN_MAX_EVENT_BYTES],
            prep[HOP_EVGEN_MAX_EVENT_BYTES];
        int nf = hop_evgen_encode(&cfg, a, sq, rep, fast, sizeof fast);
        int nr = hop_evgen_encode_protoc(&cfg, a, sq, rep, ref, sizeof ref);
        int np = hop_evgen_action_encode(&act, sq, rep, prep, sizeof prep);
        assert_true(nr > 0);
        if (nf != nr || memcmp(fast, ref, (size_t)nr) || np != nr || memcmp(prep, ref, (size_t)nr))
          fail_msg("round %d action %llu event %u reported %lld: %d / %d (prepared) bytes, "
                   "reference %d", round, (unsigned long long)a, sq, (long long)rep, nf, np, nr);
        events++;
      }
      uint8_t buf[HOP_EVGEN_MAX_EVENT_BYTES];
      assert_int_equal(hop_evgen_action_encode(&act, nev, 0, buf, sizeof buf), -1);
    }
  }
  assert_true(events > 10000);
  hop_evgen_config cfg;
  hop_evgen_config_init(&cfg);
  uint8_t buf[HOP_EVGEN_MAX_EVENT_BYTES];
  int n = hop_evgen_encode_protoc(&cfg, 5, 1, 0, buf, sizeof buf);
  hop_evgen_action act;
  hop_evgen_action_init(&act, &cfg, 5);
  for (int cap = 0; cap <= n + 1; cap++) {
    int want = cap >= n ? n : -1;
    assert_int_equal(hop_evgen_encode(&cfg, 5, 1, 0, buf, (size_t)cap), want);
    assert_int_equal(hop_evgen_encode_protoc(&cfg, 5, 1, 0, buf, (size_t)cap), want);
    assert_int_equal(hop_evgen_action_encode(&act, 1, 0, buf, (size_t)cap), want);
  }
}

static void bad_arguments(void **state) {
  (void)state;
  hop_evgen_config cfg;
  hop_evgen_config_init(&cfg);
  uint8_t buf[HOP_EVGEN_MAX_EVENT_BYTES];
  hop_evgen_key k;
  unsigned nev = hop_evgen_action_events(&cfg, 0);
  assert_int_equal(hop_evgen_encode(&cfg, 0, nev, 0, buf, sizeof buf), -1);
  assert_int_equal(hop_evgen_key_of(&cfg, 0, nev, &k), -1);
  int n = hop_evgen_encode(&cfg, 0, 0, 0, buf, sizeof buf);
  assert_true(n > 0);
  /* one byte short of the event: refused, nothing written past the buffer */
  memset(buf, 0xee, sizeof buf);
  assert_int_equal(hop_evgen_encode(&cfg, 0, 0, 0, buf, (size_t)n - 1), -1);
  assert_int_equal(buf[n - 1], 0xee);
  assert_int_equal(hop_evgen_encode(&cfg, 0, 0, 0, buf, (size_t)n), n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bytes_pinned),
      cmocka_unit_test(events_decode_to_their_keys),
      cmocka_unit_test(same_bytes_as_protoc),
      cmocka_unit_test(bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
