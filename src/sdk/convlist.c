/*
 * convlist.c — libtern's conversation-list cache and TERN_EVENT_CONVERSATION_LIST_UPDATED
 * (Tencent's CONVERSATION_LIST_UPDATED / onConversationChanged; include/tern/tern.h).
 *
 * The cache holds one entry per conversation id: a tern_conversation the app is lent in
 * the event, in a hash map, and on a list ordered by last update (the least recently
 * updated entry is forgotten when SDK_CONVLIST_MAX are held). Its truth is the server's
 * `conversations` answer (docs/protocol.md §4): one seed request after every SDK_READY,
 * and the answers to the app's own tern_get_conversation_list. Between them it follows
 * what the session sees, with the server's rules (src/server/store sqlite_messages.c,
 * sqlite_convs.c; protocol.md §4 `conversations`, `read`):
 *   - a stored message from another user: lastSeq, lastMessage, unreadCount + 1 when
 *     above readSeq, at-info of an atUserList naming the user or @ALL (the seq of the
 *     newest of each kind, cleared by a read past it);
 *   - a message of this user (acknowledged send, or from another session): sending
 *     reads everything up to it, so readSeq moves to it and unread is 0 when it is
 *     the last;
 *   - a read (this client's answer, another session's event): the server's readSeq and
 *     unreadCount.
 *   - a message the server marks isExcludedFromUnreadCount / isExcludedFromLastMessage
 *     (docs/protocol.md §6) does not count as unread / moves lastSeq only.
 * What a receiver cannot tell (a receiverList message it is not among the receivers of
 * moves the server's lastSeq) is listed in tern.h; the next seed corrects it.
 *
 * A change marks its entry dirty and arms a 0-ms timer on the client's loop: the timer
 * fires in the next loop iteration, after every callback of this one, and emits one
 * event with all dirty entries. While `hold` is set (login → seed answer) the timer is
 * not armed. The event's pointers stay valid during the callback: nothing changes the
 * cache from inside an app callback (requests are queued; destroy only closes
 * handles, and every hook returns once c->destroyed is set).
 */
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "sdk/sdk.h"

typedef struct cl_entry {
    tern_conversation conv;       /* what the event lends the app */
    struct cl_entry *prev, *next; /* by last update, oldest first */
    uint64_t seen;                /* the seed that last listed it */
    uint64_t touched;             /* the update clock when it last changed */
    int dirty;
} cl_entry;

struct sdk_convlist {
    hmap map; /* conversation id -> cl_entry * */
    cl_entry *head, *tail;
    cl_entry **dirty; /* changed since the last event, in order of change */
    size_t ndirty, capdirty;
    const tern_conversation **out; /* the event's array (kept between events) */
    size_t capout;
    uint64_t tick;      /* update clock */
    uint64_t seed_no;   /* seeds answered */
    uint64_t seed_tick; /* tick when the pending seed was sent */
    int hold;           /* from the login until the seed answered */
    int seeded;         /* a seed answered once since tern_client_create */
};

/* ---- entries -------------------------------------------------------------------------- */

static void lru_unlink(struct sdk_convlist *cl, cl_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        cl->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        cl->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_append(struct sdk_convlist *cl, cl_entry *e)
{
    e->next = NULL;
    e->prev = cl->tail;
    if (cl->tail)
        cl->tail->next = e;
    else
        cl->head = e;
    cl->tail = e;
}

static void conv_clear(tern_conversation *v)
{
    tern_free(v->id);
    tern_free(v->peer);
    tern_message_release(v->last);
    memset(v, 0, sizeof *v);
}

static void entry_remove(struct sdk_convlist *cl, cl_entry *e)
{
    if (e->dirty)
        for (size_t i = 0; i < cl->ndirty; i++)
            if (cl->dirty[i] == e) {
                memmove(&cl->dirty[i], &cl->dirty[i + 1], (cl->ndirty - i - 1) * sizeof *cl->dirty);
                cl->ndirty--;
                break;
            }
    hmap_del(&cl->map, e->conv.id, strlen(e->conv.id));
    lru_unlink(cl, e);
    conv_clear(&e->conv);
    tern_free(e);
}

static cl_entry *entry_get(struct sdk_convlist *cl, const char *id)
{
    return hmap_get(&cl->map, id, strlen(id));
}

/* A new entry taking v's contents (v is left zeroed). The oldest entry goes first if
 * the cache is full. */
static cl_entry *entry_add(struct sdk_convlist *cl, tern_conversation *v)
{
    if (cl->map.used >= SDK_CONVLIST_MAX && cl->head)
        entry_remove(cl, cl->head);
    cl_entry *e = tern_calloc(1, sizeof *e);
    e->conv = *v;
    memset(v, 0, sizeof *v);
    hmap_put(&cl->map, e->conv.id, strlen(e->conv.id), e);
    lru_append(cl, e);
    e->touched = ++cl->tick;
    return e;
}

/* The entry of a message's conversation, made from the message if there is none. */
static cl_entry *entry_of_message(struct sdk_convlist *cl, const tern_message *m)
{
    cl_entry *e = entry_get(cl, m->conv_id);
    if (e)
        return e;
    tern_conversation v;
    memset(&v, 0, sizeof v);
    v.id = tern_strdup(m->conv_id);
    v.type = m->conv_type;
    size_t skip = m->conv_type == TERN_CONV_GROUP ? 5 : 3; /* "GROUP" / "C2C" */
    v.peer = tern_strdup(strlen(m->conv_id) >= skip ? m->conv_id + skip : m->conv_id);
    return entry_add(cl, &v);
}

/* at-info from the pending @ seqs and the read position (the server's rule, session.c). */
static void recompute_at(tern_conversation *v)
{
    if (v->at_me_seq <= v->read_seq)
        v->at_me_seq = 0;
    if (v->at_all_seq <= v->read_seq)
        v->at_all_seq = 0;
    v->at_info = (v->at_me_seq ? TERN_CONV_AT_ME : 0) | (v->at_all_seq ? TERN_CONV_AT_ALL : 0);
}

static void set_last(tern_conversation *v, tern_message *m)
{
    if (v->last == m)
        return;
    tern_message_release(v->last);
    v->last = tern_message_ref(m);
}

/* ---- emitting ------------------------------------------------------------------------ */

static void flush_cb(uv_timer_t *t)
{
    tern_client *c = t->data;
    struct sdk_convlist *cl = c->convlist;
    if (c->destroyed || !cl || cl->hold || (!cl->ndirty && cl->seeded != 1))
        return;
    if (cl->seeded == 1)
        cl->seeded = 2; /* the first seed's event goes out even when the list is empty */
    if (cl->capout < cl->ndirty) {
        cl->out = tern_realloc(cl->out, cl->ndirty * sizeof *cl->out);
        cl->capout = cl->ndirty;
    }
    size_t n = cl->ndirty;
    for (size_t i = 0; i < n; i++) {
        cl->out[i] = &cl->dirty[i]->conv;
        cl->dirty[i]->dirty = 0;
    }
    cl->ndirty = 0;
    tern_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = TERN_EVENT_CONVERSATION_LIST_UPDATED;
    ev.text = "";
    ev.chunk_seq = -1;
    ev.conversations = cl->out;
    ev.conversation_count = n;
    sdk_emit(c, &ev);
}

static void schedule(tern_client *c)
{
    struct sdk_convlist *cl = c->convlist;
    if (!cl->hold && (cl->ndirty || cl->seeded == 1) && !uv_is_active((uv_handle_t *)&c->cl_timer))
        uv_timer_start(&c->cl_timer, flush_cb, 0, 0);
}

static void mark(tern_client *c, cl_entry *e)
{
    struct sdk_convlist *cl = c->convlist;
    e->touched = ++cl->tick;
    lru_unlink(cl, e);
    lru_append(cl, e);
    if (!e->dirty) {
        if (cl->ndirty == cl->capdirty) {
            cl->capdirty = cl->capdirty ? cl->capdirty * 2 : 16;
            cl->dirty = tern_realloc(cl->dirty, cl->capdirty * sizeof *cl->dirty);
        }
        cl->dirty[cl->ndirty++] = e;
        e->dirty = 1;
    }
    schedule(c);
}

/* The cache is on: an app callback exists and the client is alive. */
static struct sdk_convlist *on(tern_client *c)
{
    return c->destroyed ? NULL : c->convlist;
}

/* ---- life cycle --------------------------------------------------------------------- */

void sdk_convlist_init(tern_client *c)
{
    if (!c->on_event)
        return;
    c->convlist = tern_calloc(1, sizeof *c->convlist);
    hmap_init(&c->convlist->map);
}

void sdk_convlist_free(tern_client *c)
{
    struct sdk_convlist *cl = c->convlist;
    if (!cl)
        return;
    while (cl->head) {
        cl_entry *e = cl->head;
        lru_unlink(cl, e);
        conv_clear(&e->conv);
        tern_free(e);
    }
    hmap_free(&cl->map);
    tern_free(cl->dirty);
    tern_free(cl->out);
    tern_free(cl);
    c->convlist = NULL;
}

void sdk_convlist_hold(tern_client *c)
{
    struct sdk_convlist *cl = on(c);
    if (!cl)
        return;
    cl->hold = 1;
    uv_timer_stop(&c->cl_timer);
}

void sdk_convlist_seed(tern_client *c)
{
    struct sdk_convlist *cl = on(c);
    if (!cl || !c->logged_in)
        return;
    sdk_req *r = sdk_req_new(REQ_CONV_SEED);
    r->limit = SDK_CONVLIST_SEED;
    cl->seed_tick = cl->tick;
    sdk_sess_send_req(c, r);
}

/* ---- the server's list ----------------------------------------------------------------- */

static int last_differs(const tern_message *a, const tern_message *b)
{
    if (!a || !b)
        return a != b;
    if (strcmp(a->msg_id, b->msg_id) != 0)
        return 1;
    const char *ja = tern_message_json(a), *jb = tern_message_json(b);
    return (ja && jb) ? strcmp(ja, jb) != 0 : ja != jb; /* a stream's text so far */
}

static int conv_differs(const tern_conversation *a, const tern_conversation *b)
{
    return a->unread != b->unread || a->read_seq != b->read_seq || a->last_seq != b->last_seq ||
           a->at_info != b->at_info || a->type != b->type || strcmp(a->peer, b->peer) != 0 ||
           last_differs(a->last, b->last);
}

/* Takes the entries of a `conversations` answer. seed: the SDK's own request (changed
 * entries are marked dirty; with a complete list, entries it lacks that did not change
 * since it was asked are gone). Returns 0, or -1 for a malformed answer. */
static int apply_list(tern_client *c, const cJSON *data, unsigned limit, int seed)
{
    struct sdk_convlist *cl = c->convlist;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(data, "conversations"), *it;
    if (!cJSON_IsArray(arr))
        return -1;
    uint64_t no = seed ? ++cl->seed_no : 0;
    size_t n = 0;
    cJSON_ArrayForEach(it, arr)
    {
        n++;
        tern_conversation *v = sdk_conv_from_json(it, c->user);
        if (!v)
            continue;
        cl_entry *e = entry_get(cl, v->id);
        if (!e) {
            e = entry_add(cl, v);
            if (seed)
                mark(c, e);
        } else if (v->last_seq < e->conv.last_seq) {
            /* A message this answer does not know yet reached the cache first. */
        } else if (conv_differs(&e->conv, v)) {
            conv_clear(&e->conv);
            e->conv = *v;
            memset(v, 0, sizeof *v);
            if (seed)
                mark(c, e);
        }
        if (seed)
            e->seen = no;
        sdk_conv_free(v);
    }
    if (seed && n < limit) {
        /* The whole list: what it lacks and nothing touched since the request is gone. */
        cl_entry *e = cl->head, *next;
        for (; e; e = next) {
            next = e->next;
            if (e->seen != no && e->touched <= cl->seed_tick)
                entry_remove(cl, e);
        }
    }
    return 0;
}

void sdk_convlist_on_complete(tern_client *c, const sdk_req *r, int code, const cJSON *data)
{
    struct sdk_convlist *cl = on(c);
    if (!cl)
        return;
    switch (r->kind) {
    case REQ_CONV_SEED:
        /* A failed seed is not reported: the catch-up's own changes go out, and the
         * next SDK_READY seeds again. */
        if (code == 0 && apply_list(c, data, r->limit, 1) == 0 && !cl->seeded)
            cl->seeded = 1;
        cl->hold = 0;
        if (cl->seeded == 1) { /* the first list: every entry */
            for (cl_entry *e = cl->head; e; e = e->next)
                if (!e->dirty)
                    mark(c, e);
        }
        schedule(c);
        break;
    case REQ_CONVS:
        if (code == 0)
            apply_list(c, data, r->limit, 0);
        break;
    case REQ_READ:
        if (code == 0 && data) {
            uint64_t rs = 0, unread = 0;
            const char *cv = tern_json_str(data, "conversationID");
            if (tern_json_get_u64(data, "readSeq", &rs) == 0 && tern_json_get_u64(data, "unreadCount", &unread) == 0)
                sdk_convlist_on_read(c, cv ? cv : r->str, rs, unread);
        }
        break;
    default: break;
    }
}

/* ---- changes between lists ------------------------------------------------------------- */

/* 1 if m is a group text whose atUserList names `who` (TERN_AT_ALL for @ALL). The
 * payload is looked at first, so a message without a list costs one strstr. */
static int at_names(const tern_message *m, const char *who)
{
    const char *p = atomic_load(&((tern_message *)m)->payload_json);
    if (!p || !strstr(p, "\"atUserList\""))
        return 0;
    size_t n = tern_message_at_user_count(m);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tern_message_at_user(m, i), who))
            return 1;
    return 0;
}

/* A message of this user: sending reads everything up to it. */
static void own_message(tern_client *c, tern_message *m, int no_last)
{
    cl_entry *e = entry_of_message(c->convlist, m);
    tern_conversation *v = &e->conv;
    if (m->seq > v->last_seq) {
        v->last_seq = m->seq;
        if (!no_last)
            set_last(v, m);
    } else if (m->seq == v->last_seq && !no_last && (!v->last || !strcmp(v->last->msg_id, m->msg_id))) {
        set_last(v, m);
    }
    if (m->seq > v->read_seq)
        v->read_seq = m->seq;
    uint64_t above = v->last_seq > v->read_seq ? v->last_seq - v->read_seq : 0;
    if (v->unread > above) /* no more than what is above the read position */
        v->unread = above;
    recompute_at(v);
    mark(c, e);
}

void sdk_convlist_on_message(tern_client *c, tern_message *m)
{
    if (!on(c) || m->seq == 0)
        return;
    if (!strcmp(m->from, c->user)) {
        own_message(c, m, m->no_last);
        return;
    }
    cl_entry *e = entry_of_message(c->convlist, m);
    tern_conversation *v = &e->conv;
    if (m->seq <= v->last_seq) {
        /* Counted already (by the list the cache came from); the same message again is
         * a stream that moved on or finished: its newer text. */
        if (m->seq == v->last_seq && v->last && !strcmp(v->last->msg_id, m->msg_id) && v->last != m) {
            set_last(v, m);
            mark(c, e);
        }
        return;
    }
    /* The server's rules (store: CONV_SELECT): lastSeq moves for every message, the last
     * message skips isExcludedFromLastMessage ones, unread skips
     * isExcludedFromUnreadCount ones (excludedFromUnreadCount, or a receiverList). */
    v->last_seq = m->seq;
    if (!m->no_last)
        set_last(v, m);
    if (m->seq > v->read_seq && !m->no_unread)
        v->unread++;
    if (m->conv_type == TERN_CONV_GROUP && m->type == TERN_MSG_TEXT) {
        if (at_names(m, c->user))
            v->at_me_seq = m->seq;
        if (at_names(m, TERN_AT_ALL))
            v->at_all_seq = m->seq;
    }
    recompute_at(v);
    mark(c, e);
}

void sdk_convlist_on_sent(tern_client *c, tern_message *m, int no_last)
{
    if (!on(c) || m->seq == 0 || !m->conv_id || !*m->conv_id)
        return;
    own_message(c, m, no_last);
}

void sdk_convlist_on_read(tern_client *c, const char *conv, uint64_t read_seq, uint64_t unread)
{
    struct sdk_convlist *cl = on(c);
    cl_entry *e = cl && conv ? entry_get(cl, conv) : NULL;
    if (!e)
        return; /* not in the list the cache knows: the next seed brings it */
    tern_conversation *v = &e->conv;
    uint64_t rs = read_seq > v->read_seq ? read_seq : v->read_seq;
    if (rs == v->read_seq && unread == v->unread)
        return;
    v->read_seq = rs;
    if (rs > v->last_seq)
        v->last_seq = rs; /* the server clamps a read to its last seq: one this user never saw */
    v->unread = unread;
    recompute_at(v);
    mark(c, e);
}

void sdk_convlist_drop(tern_client *c, const char *conv)
{
    struct sdk_convlist *cl = on(c);
    cl_entry *e = cl && conv ? entry_get(cl, conv) : NULL;
    if (e)
        entry_remove(cl, e);
}
