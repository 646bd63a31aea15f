/* registry.c — the session registry: (app, user) -> the live sessions of that user on
 * this node (loop index, connection id, session id), so deliveries reach every device
 * on any loop. One mutex; a delivery pushes into the loops' inboxes under it, for a
 * whole list of users at once (see registry.h). */
#include "bus/registry.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hmap.h"

typedef struct session_ref {
    int loop;
    uint64_t conn_id;
    uint64_t session_id;
} session_ref;

typedef struct session_list {
    size_t n, cap;
    session_ref *s;
} session_list;

struct registry {
    pthread_mutex_t mu;
    hmap map;         /* "appid/user" -> session_list* */
    net_loop **loops; /* the inbox of a session on loop i: loops[i] */
    int nloops;
    atomic_uint_fast64_t sessions, pushes; /* /metrics: tern_sessions, tern_messages_out_total */
};

/* Users looked up per hold of the registry lock (about 15 us of work). */
#define REG_PUSH_CHUNK 256

/* The longest key: 20 digits, '/', a user id (64 bytes at most, tern_ident_valid). */
#define REG_KEY_MAX 96

/* Writes "<app>/" into out (at least 22 bytes); returns its length. Built by hand:
 * this runs for every delivery. */
static size_t reg_prefix(char *out, int64_t app)
{
    char digits[24];
    size_t nd = 0, n = 0;
    uint64_t v = (uint64_t)app;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && nd < sizeof digits);
    while (nd)
        out[n++] = digits[--nd];
    out[n++] = '/';
    return n;
}

/* Completes the key "<app>/<user>" after a prefix of length pn; returns its length. A
 * user longer than the key allows is cut (no such user can have logged in). */
static size_t reg_key_user(char k[REG_KEY_MAX], size_t pn, const char *user)
{
    size_t ul = strlen(user);
    if (ul > REG_KEY_MAX - 1 - pn)
        ul = REG_KEY_MAX - 1 - pn;
    memcpy(k + pn, user, ul);
    k[pn + ul] = 0;
    return pn + ul;
}

registry *registry_new(net *n)
{
    registry *r = tern_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->nloops = net_nloops(n);
    r->loops = tern_calloc((size_t)r->nloops, sizeof *r->loops);
    if (!r->loops) {
        tern_free(r);
        return NULL;
    }
    for (int i = 0; i < r->nloops; i++)
        r->loops[i] = net_loop_at(n, i);
    pthread_mutex_init(&r->mu, NULL);
    hmap_init(&r->map);
    atomic_init(&r->sessions, 0);
    atomic_init(&r->pushes, 0);
    return r;
}

int registry_add(registry *r, int64_t app, const char *user, int loop, uint64_t conn_id, uint64_t session_id,
                 size_t max)
{
    char k[REG_KEY_MAX];
    size_t kn = reg_key_user(k, reg_prefix(k, app), user);
    pthread_mutex_lock(&r->mu);
    session_list *l = hmap_get(&r->map, k, kn);
    if (l && max && l->n >= max) { /* checked and added under one lock */
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    if (!l) {
        l = tern_calloc(1, sizeof *l);
        hmap_put(&r->map, k, kn, l);
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 2;
        l->s = tern_realloc(l->s, l->cap * sizeof *l->s);
    }
    l->s[l->n++] = (session_ref){loop, conn_id, session_id};
    pthread_mutex_unlock(&r->mu);
    atomic_fetch_add(&r->sessions, 1);
    return 0;
}

void registry_remove(registry *r, int64_t app, const char *user, uint64_t session_id)
{
    char k[REG_KEY_MAX];
    size_t kn = reg_key_user(k, reg_prefix(k, app), user);
    pthread_mutex_lock(&r->mu);
    session_list *l = hmap_get(&r->map, k, kn);
    if (l) {
        for (size_t i = 0; i < l->n; i++) {
            if (l->s[i].session_id == session_id) {
                l->s[i] = l->s[--l->n];
                atomic_fetch_sub(&r->sessions, 1);
                break;
            }
        }
        if (!l->n) {
            hmap_del(&r->map, k, kn);
            tern_free(l->s);
            tern_free(l);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* Inside a walk of a user list under the lock: lets others in every REG_PUSH_CHUNK users. */
static inline void breathe(registry *r, size_t u)
{
    if (u && u % REG_PUSH_CHUNK == 0) {
        pthread_mutex_unlock(&r->mu);
        pthread_mutex_lock(&r->mu);
    }
}

void registry_presence(registry *r, int64_t app, const char *const *users, size_t n, uint8_t *online)
{
    char k[REG_KEY_MAX];
    size_t pn = reg_prefix(k, app);
    pthread_mutex_lock(&r->mu);
    for (size_t u = 0; u < n; u++) {
        breathe(r, u);
        size_t kn = reg_key_user(k, pn, users[u]);
        const session_list *l = hmap_get(&r->map, k, kn);
        online[u] = l && l->n;
    }
    pthread_mutex_unlock(&r->mu);
}

int registry_push_users(registry *r, int64_t app, const char *const *users, size_t n, uint64_t except_session, frame *f,
                        int close_code)
{
    char k[REG_KEY_MAX];
    size_t pn = reg_prefix(k, app);
    int sent = 0;
    /* Pushed under the registry lock, so every session is reached however many there
     * are; one lock for the whole list, since a group's fan-out names every member, but
     * released every REG_PUSH_CHUNK users so a huge group never holds logins and closes
     * on the loops waiting for long. */
    pthread_mutex_lock(&r->mu);
    for (size_t u = 0; u < n; u++) {
        breathe(r, u);
        size_t kn = reg_key_user(k, pn, users[u]);
        session_list *l = hmap_get(&r->map, k, kn);
        for (size_t i = 0; l && i < l->n; i++) {
            if (l->s[i].session_id == except_session)
                continue;
            net_inbox_item it = {
                .conn_id = l->s[i].conn_id, .f = frame_ref(f), .close_code = close_code, .push = !close_code};
            net_inbox_push(r->loops[l->s[i].loop], &it);
            sent++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    atomic_fetch_add_explicit(&r->pushes, (uint_fast64_t)sent, memory_order_relaxed);
    return sent;
}

void registry_free(registry *r)
{
    if (!r)
        return;
    hmap_entry *e;
    for (size_t i = 0; hmap_next(&r->map, &i, &e);) {
        session_list *l = e->val;
        tern_free(l->s);
        tern_free(l);
    }
    hmap_free(&r->map);
    pthread_mutex_destroy(&r->mu);
    tern_free(r->loops);
    tern_free(r);
}

uint64_t registry_sessions(registry *r)
{
    return atomic_load_explicit(&r->sessions, memory_order_relaxed);
}

uint64_t registry_pushes(registry *r)
{
    return atomic_load_explicit(&r->pushes, memory_order_relaxed);
}
