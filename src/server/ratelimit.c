/*
 * ratelimit.c — the group message rate with priorities, and the REST group-send rate
 * (ratelimit.h; seed 001 "接口限制" and its three notes).
 *
 * The group rate. Each group has a one-second window (it opens with the first message
 * after the previous one closed) in which at most R = the app's groupMsgRate messages
 * go; the decision is taken when a message arrives, so nothing waits. Within a window:
 *
 *   - Reserves by expected demand. A message of priority p may take a token only if
 *     the higher priorities are not expected to need it: their demand this window is
 *     the larger of what they offered in the previous window (when it was the one just
 *     before) and what they offered so far in this one, and the tokens they still
 *     expect to take (demand minus what they took, highest first, out of R) are held
 *     back from p. A steady mix therefore gets exactly the higher-priority share.
 *   - A floor for the lowest ones: Low never takes the last quarter of R and Lowest not
 *     the last half, so even in a first burst with no history (a cold window), High and
 *     Normal arriving after them find tokens.
 *   - Random shedding among equals: when p's expected demand exceeds the k tokens left
 *     to it, each message of p is admitted with probability k / (messages of p still
 *     expected), Knuth's selection sampling: exactly k of them, uniformly chosen, when
 *     the demand estimate holds, instead of always the first k.
 *   High is subject to R like the others: a High flood past R is shed too.
 *
 * A shed message completes as a success (seed 001: the sender is not told), with an id
 * from the online-id generator and seq 0; it is neither stored nor delivered, and the
 * after-send callback never sees it (it runs on commit). C2C is not limited.
 *
 * State: 16 shards, each a mutex and a hash map "app/gid" -> window state; a group's
 * state is allocated once and reused. When a shard holds more than SHARD_SOFT_MAX
 * groups it drops those idle for two windows (their state says nothing any more), so
 * memory follows the groups active in the last seconds. The app's rate is looked up
 * once per window per group, not per message.
 *
 * The REST rate: a token bucket per app (restGroupSendRate a second, bursts of as
 * much), one map under one mutex, as the stream rate (stream.c).
 */
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/hmap.h"
#include "core/id.h"
#include "core/message.h"
#include "core/stream.h"
#include "core/util.h"

#define NSHARDS 16
#define SHARD_SOFT_MAX 4096
#define WINDOW_NS 1000000000ull
#define NPRIO 4

typedef struct gstate {
    uint64_t start_ns; /* the window's opening */
    uint32_t rate;     /* R of this window */
    uint32_t n;        /* admitted in this window */
    uint32_t off[NPRIO], adm[NPRIO], prev_off[NPRIO];
} gstate;

typedef struct shard {
    pthread_mutex_t mu;
    hmap groups; /* "app/gid" -> gstate* */
    size_t sweep_at;
    uint64_t rnd; /* xorshift state */
} shard;

struct ratelimit {
    shard shards[NSHARDS];
    pthread_mutex_t rest_mu;
    hmap rest; /* app id -> tern_rate* */
    _Atomic uint64_t shed, rest_limited;
};

static struct ratelimit *RL(server *s)
{
    return s->ratelimit;
}

void ratelimit_init(server *s)
{
    struct ratelimit *rl = tern_calloc(1, sizeof *rl);
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_init(&rl->shards[i].mu, NULL);
        hmap_init(&rl->shards[i].groups);
        rl->shards[i].sweep_at = SHARD_SOFT_MAX;
        rl->shards[i].rnd = tern_mono_ns() * 2654435761u + (uint64_t)i + 1;
    }
    pthread_mutex_init(&rl->rest_mu, NULL);
    hmap_init(&rl->rest);
    s->ratelimit = rl;
}

static void free_values(hmap *m)
{
    hmap_entry *e;
    for (size_t i = 0; hmap_next(m, &i, &e);)
        tern_free(e->val);
    hmap_free(m);
}

void ratelimit_free(server *s)
{
    struct ratelimit *rl = RL(s);
    if (!rl)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_destroy(&rl->shards[i].mu);
        free_values(&rl->shards[i].groups);
    }
    pthread_mutex_destroy(&rl->rest_mu);
    free_values(&rl->rest);
    tern_free(rl);
    s->ratelimit = NULL;
}

/* The app's rate (apps_setting_of: no copy of the app, and no lock while no app set
 * its own value). */
static uint64_t app_rate(server *s, int64_t app, const char *key)
{
    const app_setting_def *d = apps_setting_find(key, strlen(key));
    return d ? apps_setting_of(s, app, d) : 1;
}

/* Drops the groups idle for two windows (shard locked). */
static void sweep(shard *sh, uint64_t now)
{
    hmap_entry *e;
    size_t n = 0, cap = sh->groups.used;
    char **dead = tern_malloc((cap ? cap : 1) * sizeof *dead);
    size_t *deadn = tern_malloc((cap ? cap : 1) * sizeof *deadn);
    for (size_t i = 0; hmap_next(&sh->groups, &i, &e);) {
        gstate *g = e->val;
        if (now - g->start_ns >= 2 * WINDOW_NS && n < cap) {
            dead[n] = e->skey;
            deadn[n++] = e->sklen;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char k[TERN_IDENT_MAX + 32];
        size_t kl = deadn[i] < sizeof k ? deadn[i] : sizeof k;
        memcpy(k, dead[i], kl); /* the map frees its key copy on delete */
        tern_free(hmap_del(&sh->groups, k, kl));
    }
    tern_free(dead);
    tern_free(deadn);
    /* All active: sweep again only when the map has doubled. */
    sh->sweep_at = sh->groups.used * 2 > SHARD_SOFT_MAX ? sh->groups.used * 2 : SHARD_SOFT_MAX;
}

static uint64_t next_rand(shard *sh)
{
    uint64_t x = sh->rnd;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sh->rnd = x;
    return x;
}

/* The decision for class p (0 = High .. 3 = Lowest) in g at now (shard locked). */
static int decide(server *s, int64_t app, shard *sh, gstate *g, int p, uint64_t now)
{
    if (g->start_ns == 0 || now - g->start_ns >= WINDOW_NS) {
        int adjacent = g->start_ns != 0 && now - g->start_ns < 2 * WINDOW_NS;
        for (int i = 0; i < NPRIO; i++) {
            g->prev_off[i] = adjacent ? g->off[i] : 0;
            g->off[i] = g->adm[i] = 0;
        }
        g->n = 0;
        g->start_ns = now;
        uint64_t r = app_rate(s, app, "groupMsgRate");
        g->rate = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
    }
    g->off[p]++;
    if (g->rate == 0) /* no limit (--group-msg-rate 0 and the app set none) */
        return 1;
    int64_t R = g->rate;
    int64_t floor = p == 2 ? R / 4 : p == 3 ? R / 2 : 0;
    /* Tokens the higher priorities are still expected to take, highest first. */
    int64_t rem = R - floor, held = 0;
    for (int h = 0; h < p && rem > 0; h++) {
        int64_t d = g->prev_off[h] > g->off[h] ? g->prev_off[h] : g->off[h];
        int64_t claim = d < rem ? d : rem;
        rem -= claim;
        if (claim > (int64_t)g->adm[h])
            held += claim - g->adm[h];
    }
    int64_t free_now = R - floor - (int64_t)g->n - held;
    int64_t k = rem - (int64_t)g->adm[p]; /* p's share left */
    if (free_now < k)
        k = free_now;
    if (k <= 0)
        return 0;
    /* Selection sampling among equals: k tokens for the messages of p still expected. */
    int64_t d = g->prev_off[p] > g->off[p] ? g->prev_off[p] : g->off[p];
    int64_t left = d - (int64_t)g->off[p] + 1;
    if (left > k && next_rand(sh) % (uint64_t)left >= (uint64_t)k)
        return 0;
    g->n++;
    g->adm[p]++;
    return 1;
}

int ratelimit_group_admit(server *s, int64_t app, const char *gid, int priority)
{
    return ratelimit_group_admit_at(s, app, gid, priority, tern_mono_ns());
}

int ratelimit_group_admit_at(server *s, int64_t app, const char *gid, int priority, uint64_t now)
{
    struct ratelimit *rl = RL(s);
    char key[TERN_IDENT_MAX + 32];
    int kl = snprintf(key, sizeof key, "%lld/%s", (long long)app, gid);
    if (kl < 0 || (size_t)kl >= sizeof key)
        return 1; /* not an identifier: validated before, cannot happen */
    int p = priority >= TERN_MSG_PRIO_HIGH && priority <= TERN_MSG_PRIO_LOWEST ? priority - 1 : 1;
    shard *sh = &rl->shards[hmap_hash_bytes(key, (size_t)kl) % NSHARDS];
    pthread_mutex_lock(&sh->mu);
    gstate *g = hmap_get(&sh->groups, key, (size_t)kl);
    if (!g) {
        if (sh->groups.used >= sh->sweep_at)
            sweep(sh, now);
        g = tern_calloc(1, sizeof *g);
        hmap_put(&sh->groups, key, (size_t)kl, g);
    }
    int ok = decide(s, app, sh, g, p, now);
    pthread_mutex_unlock(&sh->mu);
    if (!ok)
        atomic_fetch_add(&rl->shed, 1);
    return ok;
}

int ratelimit_rest_group_send(server *s, int64_t app)
{
    struct ratelimit *rl = RL(s);
    uint64_t per_sec = app_rate(s, app, "restGroupSendRate");
    if (per_sec == 0)
        return TERN_OK;
    pthread_mutex_lock(&rl->rest_mu);
    tern_rate *t = hmap_get_u64(&rl->rest, (uint64_t)app);
    if (!t) {
        t = tern_calloc(1, sizeof *t);
        hmap_put_u64(&rl->rest, (uint64_t)app, t);
    }
    int ok = tern_rate_take(t, (double)per_sec, (double)per_sec, tern_mono_ns());
    pthread_mutex_unlock(&rl->rest_mu);
    if (!ok)
        atomic_fetch_add(&rl->rest_limited, 1);
    return ok ? TERN_OK : TERN_ERR_SEND_RATE;
}

uint64_t ratelimit_shed_total(server *s)
{
    return atomic_load(&RL(s)->shed);
}

uint64_t ratelimit_rest_limited_total(server *s)
{
    return atomic_load(&RL(s)->rest_limited);
}
