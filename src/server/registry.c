/* registry.c — the session registry: (app, user) -> the live sessions of that user
 * (loop index + connection id), so deliveries reach every device on any loop. One
 * mutex; lookups copy the sessions out so no lock is held while frames are queued. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "server.h"

typedef struct session_list {
    size_t n, cap;
    session_ref *s;
} session_list;

/* Key "<app>/<user>", built by hand: lookups run for every delivery. */
static size_t reg_key(char *out, size_t outsz, int64_t app, const char *user)
{
    char digits[24];
    size_t nd = 0;
    uint64_t v = (uint64_t)app;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && nd < sizeof digits);
    size_t n = 0;
    while (nd && n + 1 < outsz)
        out[n++] = digits[--nd];
    if (n + 1 < outsz)
        out[n++] = '/';
    size_t ul = strlen(user);
    if (ul > outsz - 1 - n)
        ul = outsz - 1 - n;
    memcpy(out + n, user, ul);
    n += ul;
    out[n] = 0;
    return n;
}

int registry_add(server *s, int64_t app, const char *user, int loop, uint64_t conn_id, size_t max)
{
    char k[96];
    size_t kn = reg_key(k, sizeof k, app, user);
    pthread_mutex_lock(&s->reg_mu);
    session_list *l = hmap_get(&s->reg, k, kn);
    if (l && max && l->n >= max) { /* checked and added under one lock */
        pthread_mutex_unlock(&s->reg_mu);
        return -1;
    }
    if (!l) {
        l = tern_calloc(1, sizeof *l);
        hmap_put(&s->reg, k, kn, l);
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 2;
        l->s = tern_realloc(l->s, l->cap * sizeof *l->s);
    }
    l->s[l->n++] = (session_ref){loop, conn_id};
    pthread_mutex_unlock(&s->reg_mu);
    atomic_fetch_add(&s->m_ws_sessions, 1);
    return 0;
}

void registry_remove(server *s, int64_t app, const char *user, uint64_t conn_id)
{
    char k[96];
    size_t kn = reg_key(k, sizeof k, app, user);
    pthread_mutex_lock(&s->reg_mu);
    session_list *l = hmap_get(&s->reg, k, kn);
    if (l) {
        for (size_t i = 0; i < l->n; i++) {
            if (l->s[i].conn_id == conn_id) {
                l->s[i] = l->s[--l->n];
                atomic_fetch_sub(&s->m_ws_sessions, 1);
                break;
            }
        }
        if (!l->n) {
            hmap_del(&s->reg, k, kn);
            tern_free(l->s);
            tern_free(l);
        }
    }
    pthread_mutex_unlock(&s->reg_mu);
}

int registry_push_user(server *s, int64_t app, const char *user, uint64_t except, frame *f)
{
    return registry_push_user_close(s, app, user, except, f, 0);
}

int registry_push_user_close(server *s, int64_t app, const char *user, uint64_t except, frame *f, int close_code)
{
    char k[96];
    size_t kn = reg_key(k, sizeof k, app, user);
    int sent = 0;
    /* Pushed under the registry lock (inbox locks nest inside it, never the reverse), so
     * every session is reached however many there are. */
    pthread_mutex_lock(&s->reg_mu);
    session_list *l = hmap_get(&s->reg, k, kn);
    for (size_t i = 0; l && i < l->n; i++) {
        if (l->s[i].conn_id == except)
            continue;
        inbox_item it = {.conn_id = l->s[i].conn_id, .f = frame_ref(f), .close_code = close_code, .push = !close_code};
        inbox_push(&s->loops[l->s[i].loop], &it);
        sent++;
    }
    pthread_mutex_unlock(&s->reg_mu);
    atomic_fetch_add_explicit(&s->m_msgs_out, (uint_fast64_t)sent, memory_order_relaxed);
    return sent;
}
