/*
 * bench.h — tern-bench's internal model: the run configuration, the plan of users,
 * groups and connections, the per-sender bookkeeping that makes loss and duplicates
 * exact, the per-thread libuv client loops, and the log-linear latency histogram.
 *
 * How the pieces fit: main.c parses options and orchestrates the phases (REST setup in
 * rest.c, connecting and running in client.c, /proc sampling in sysstat.c) and prints
 * the results; the floor workload (floor.c) needs no server and runs on its own. The hot
 * path lives in client.c: sends patch a pre-encoded frame template in place, receives
 * look for a marker in the delivered text instead of parsing JSON, and nothing is
 * allocated per message. Each client thread owns its connections and its libuv loop
 * outright; the main thread only reads counters (relaxed atomics) and flips the shared
 * phase.
 */
#ifndef TERN_BENCH_H
#define TERN_BENCH_H
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "core/buf.h"
#include "core/http.h"
#include "core/ws.h"

/* ---- histogram: HDR-like log-linear buckets over nanoseconds -------------------------- */

/* Values below 256 have a bucket each; above, every power of two is split into 128
 * linear sub-buckets, so a reported percentile is within 0.8 % of the true value. */
#define HIST_SUB_BITS 7
#define HIST_LINEAR (2u << HIST_SUB_BITS) /* 256 */
#define HIST_BUCKETS (HIST_LINEAR + (64 - HIST_SUB_BITS - 1) * (1u << HIST_SUB_BITS))

typedef struct hist {
    uint64_t count;
    uint64_t min, max; /* exact */
    double sum;
    uint32_t b[HIST_BUCKETS];
} hist;

void hist_init(hist *h);
void hist_add(hist *h, uint64_t v);
void hist_merge(hist *into, const hist *from);
/* Value at quantile q (0..1): the midpoint of the bucket holding that rank, clamped to
 * [min, max]; 0 if empty. */
uint64_t hist_quantile(const hist *h, double q);

/* ---- configuration ------------------------------------------------------------------- */

enum workload { W_FANOUT = 0, W_C2C, W_IDLE, W_FLOOR, W_STREAM, W_MEDIA };

typedef struct bench_cfg {
    int workload;
    char url[512];
    char host[256];
    int port;
    char hostport[300]; /* Host header */
    char path[256];     /* WebSocket path, default /ws */
    struct sockaddr_storage addr;
    char org[65], app[65], appkey[131];
    char client_id[256], secret[256];
    char prefix[48]; /* unique per run: user/group name prefix */
    uint32_t runid;  /* embedded in every text */

    int groups, members, senders, pairs, connections;
    double rate;     /* aggregate messages per second */
    double duration; /* measured window, seconds */
    double warmup;   /* seconds before the window, excluded from stats */
    double drain;    /* max seconds to wait for in-flight deliveries */
    double settle;   /* idle: seconds between last ready and the RSS sample */
    double setup_timeout;
    int text_size;
    int frame_size;  /* floor: bytes per delivery */
    int floor_uring; /* floor: each tick's writes in one io_uring submission */
    int mix;         /* fanout: sender i sends type i % 5 (text, @, custom, location, face) */
    int threads;
    int concurrency; /* connects in flight (all threads) */
    int server_pid;  /* 0: not sampled */
    /* stream workload (stream.c) */
    int streams;           /* concurrent streams = groups */
    int chunks;            /* chunks per stream, the last with finish:true */
    int chunk_size;        /* bytes of text per chunk */
    int http_conns;        /* keep-alive HTTP connections per app */
    double app_rate;       /* requests per second per app at most (the limit is 100) */
    char admin_token[256]; /* to create the apps through /admin/apps */
    /* media workload (media.c) */
    uint64_t media_size;  /* bytes of the big upload/download */
    int media_reps;       /* alternating baseline/ternd repetitions per run */
    int uploaders;        /* concurrent 1 MB uploaders beside the fan-out */
    uint64_t upload_size; /* bytes per concurrent upload */
    double upload_rate;   /* concurrent uploads started per second at most (0: back to back) */
    char media_dir[512];  /* where the baseline copy writes its file (ternd's disk) */
    int json;
    int verbose;
} bench_cfg;

/* ---- plan ---------------------------------------------------------------------------- */

/* One sender's state. Written by the owning thread only, except recv_bits (atomic OR by
 * every receiving thread). Loss and duplicates are exact: one bit per (seq, recipient
 * slot). */
typedef struct sender {
    int conn;           /* index of the sending connection */
    int group;          /* fan-out: target group; c2c: -1 */
    int peer_conn;      /* c2c: the receiving connection; fan-out: -1 */
    uint32_t nslots;    /* recipient slots per message in recv_bits */
    uint32_t self_slot; /* the sender's own slot (never delivered to), or UINT32_MAX */
    uint32_t expect;    /* sessions each message must reach */
    uint64_t seq_cap;   /* most messages this sender may send */
    uint64_t next_seq;
    uint64_t *send_ns;   /* [seq_cap] monotonic send time, for ack latency */
    uint8_t *acked;      /* [seq_cap] 0 pending, 1 acked, 2 error response */
    uint64_t *recv_bits; /* [ceil(seq_cap * nslots / 64)] */
    char *tmpl;          /* the send request, patched in place per message */
    size_t tmpl_len;
    size_t off_id, off_cmid, off_cmid_ts, off_txt_seq, off_txt_ts;
} sender;

/* A connection as planned (user and role) and, once started, as live state. */
enum cstate { C_IDLE = 0, C_CONNECTING, C_HANDSHAKE, C_LOGIN, C_READY, C_FAILED, C_CLOSED };

struct bthread;

typedef struct bconn {
    uv_tcp_t tcp; /* first: handle data points back here */
    uv_connect_t creq;
    uv_write_t wreq;
    struct bthread *th;
    int idx;
    int sender;    /* sender index if this connection sends, else -1 */
    int group;     /* fan-out: the group it belongs to, else -1 */
    uint32_t slot; /* its recipient slot in its group (c2c: 0) */
    int app;       /* stream: index into bench.apps (its user lives in that app) */
    uint8_t state;
    uint8_t writing;
    uint8_t handle_open;
    char user[65];
    http_parser *hp; /* handshake only */
    ws_reader wr;
    tern_buf out;      /* frames not yet handed to the kernel */
    tern_buf inflight; /* bytes owned by the uv_write in progress */
    uint64_t t_start;  /* connect started (mono ns) */
    uint64_t t_ready;
    uint64_t last_tx; /* last frame sent (mono ns), for keep-alive pings */
    char wskey[25];
} bconn;

/* Per-thread counters; written by the owning thread, read by main with relaxed loads. */
typedef struct bcounters {
    uint64_t sent, sent_win;
    uint64_t acks, acks_win, ack_errors;
    uint64_t expected; /* deliveries owed for the acked messages */
    uint64_t recv, recv_win, recv_distinct, dups, unexpected;
    uint64_t conn_failed, conn_ready, closed_unexpected, server_events; /* kicked/resync/shutdown */
    uint64_t send_dropped; /* sends skipped: connection not ready or seq_cap hit */
    uint64_t lag_max_ns;   /* worst pacing lag seen */
} bcounters;

typedef struct bthread {
    struct bench *b;
    int id;
    uv_loop_t loop;
    uv_thread_t tid;
    uv_timer_t tick;
    uv_async_t wake;
    int *conns; /* indices into bench.conns */
    int nconns;
    int next_connect;
    int in_flight;
    int max_in_flight;
    int in_connect_more; /* connect_more is on the stack */
    int done_connecting; /* atomic: all conns ready or failed */
    int *senders;        /* indices into bench.senders */
    int nsenders;
    int rr;
    double rate;    /* this thread's share */
    uint64_t paced; /* messages due so far (pacing) */
    int running;
    uint64_t t_start, win_start, win_end; /* copied when the run starts */
    uint64_t win_split[2];                /* media: messages sent from [0] on go to lat_seg[0], from [1] on
                                             to lat_seg[1] (UINT64_MAX: never) */
    uint64_t first_connect, last_ready;
    uint64_t next_keepalive;
    uint64_t xs; /* xorshift state for masks */
    char *readbuf;
    bcounters c;
    hist lat, ack, connect;
    hist lat_seg[2];  /* deliveries of messages sent after win_split[0], [1] */
    char errmsg[256]; /* first setup error seen */
} bthread;

enum phase { PH_CONNECT = 0, PH_RUN, PH_STOP };

/* stream: one of the run's apps (created through /admin/apps). */
typedef struct bapp {
    char app[65];
    char appkey[131]; /* org/app */
    char client_id[128], secret[128];
    char token[1024]; /* app token */
} bapp;

struct srun;

typedef struct bench {
    bench_cfg cfg;
    bconn *conns;
    int nconns;
    sender *senders;
    int nsenders;
    bthread *threads;
    int phase; /* atomic */
    uint64_t t_start, win_start, win_end;
    uint64_t win_split[2]; /* media: see bthread.win_split; UINT64_MAX otherwise */
    bapp *apps;            /* stream: the apps (users and groups spread over them), else NULL */
    int napps;
    struct srun *sr; /* stream: the run's chunk bookkeeping (stream.c) */
} bench;

/* ---- main.c: the plan's naming ----------------------------------------------------- */

/* Fills b->conns[0, G*M): receiver m of group g is conns[g*M + m], "<prefix>r<g>_<m>". */
void plan_receivers(bench *b, int G, int M);
/* Group g's id: "<prefix>g<g>". */
void plan_group_id(const bench_cfg *cfg, int g, char *out, size_t n);
/* Plans the connections, users and senders of cfg's workload (fanout, c2c, idle; media
 * plans a fan-out). */
void bench_plan(bench *b);
/* After the window: waits until every send is answered and every owed delivery came, at
 * most cfg.drain seconds. */
void bench_drain(bench *b);
/* Exact loss (after the threads stopped) over the messages sent in [from, to) (monotonic
 * ns): deliveries owed by acked messages, those missing, and messages never answered. */
void bench_count_loss(bench *b, uint64_t from, uint64_t to, uint64_t *owed, uint64_t *lost, uint64_t *unacked);
/* Sleeps until the monotonic time t_ns. */
void bench_sleep_until(uint64_t t_ns);
/* Waits until every WebSocket is ready (or the setup timeout): 0, or -1 (printed). */
int bench_wait_connected(bench *b);
/* Stops and joins the client threads. */
void bench_stop(bench *b);
/* Prints ,"key":v with `decimals` decimals to f, or ,"key":null unless have and v is finite. */
void json_num(FILE *f, const char *key, double v, int have, int decimals);

/* ---- floor.c: the kernel's write floor, no server ------------------------------------ */

/* Progress on stderr unless q (the -q option) is set. */
#define BENCH_SAY(q, ...)                                                                                              \
    do {                                                                                                               \
        if (!(q)) {                                                                                                    \
            fprintf(stderr, "tern-bench: " __VA_ARGS__);                                                               \
            fputc('\n', stderr);                                                                                       \
        }                                                                                                              \
    } while (0)

/* Runs the floor workload (cfg: connections, rate, frame_size, warmup, duration,
 * setup_timeout, json) and prints its result. Progress on stderr unless quiet. Returns
 * the exit status: 0 when the run completed, 2 when setup failed. */
int floor_run(const bench_cfg *cfg, int quiet);

/* ---- rest.c: blocking HTTP/1.1 client for setup -------------------------------------- */

/* A blocking TCP connection to addr with 60 s send and receive timeouts (TCP_NODELAY if
 * nodelay): the socket, or -1 with errno. */
int bench_connect(const struct sockaddr_storage *addr, int nodelay);
/* Gets an app token and creates every user and group of the plan. Returns 0, or -1 with
 * a message on stderr. */
int rest_setup(bench *b);
/* Reads {"org","app","client_id","client_secret"} from a file into cfg; 0 or -1. */
int rest_load_app_file(bench_cfg *cfg, const char *path);

/* stream: creates the apps (admin token), their tokens, users (members + a `bot` user per
 * app, the streams' sender) and groups (owner bot, M members). 0 or -1 (printed). */
int rest_setup_stream(bench *b);

/* ---- stream.c: the streamed-message workload ----------------------------------------- */

/* Plans and runs the stream workload and prints its result; returns the exit status. */
int stream_run(bench *b, int quiet);
/* A client thread saw the stream marker in a text frame (m points at it, avail bytes
 * left in the frame). */
void stream_on_delivery(bconn *c, const char *m, size_t avail);
#define STREAM_MARKER "~ts~"
#define STREAM_MARKER_LEN 4

/* ---- probe.c: tern_img_probe's cost (the media workload's part 5) --------------------- */

#define PROBE_CASES 5
typedef struct probe_case {
    const char *name; /* "jpeg", "png", "gif", "webp", "bmp" */
    uint8_t bytes[512];
    size_t len;
    uint32_t w, h; /* the size the head must read as */
    double ns;     /* per probe */
} probe_case;

/* Fills c with the five heads and the ns per tern_img_probe of each (the median of 5
 * timed loops of 200 000 probes). 0, or -1 (printed) if a head does not read as its
 * expected size. */
int probe_bench(probe_case c[PROBE_CASES]);

/* ---- media.c: the media workload (issue 9) ------------------------------------------ */

/* Runs the media workload (upload and download throughput against a plain loopback
 * copy, the server's RSS growth, fan-out latency with concurrent uploads, the image
 * header probe's cost) and prints its result; returns the exit status. */
int media_run(bench *b, int quiet);

/* ---- upload.c: the media workload's concurrent uploaders and their plain sink -------- */

#define UPLOAD_BUF (256 * 1024) /* ternd's upload piece; every copy of the media workload uses it */

/* One client of the pool: a file of cfg.upload_size bytes, uploaded again and again. */
typedef struct uploader {
    int fd;
    int state;
    char *data;
    char head[1536]; /* ternd's request head, with this client's user token */
    size_t headlen;
    uint64_t off; /* bytes of head + body sent */
    uint64_t t0, count;
    http_parser *p;
} uploader;

/* What a pool did between upool_start and upool_join. */
typedef struct upstats {
    uint64_t ok, failed, bytes;
    uint64_t first_t0, last_t1; /* first upload started, last answered (mono ns) */
    hist lat;                   /* per upload: connect -> answer */
    char err[160];              /* the first failure */
} upstats;

typedef struct upool {
    const bench_cfg *cfg;
    uploader *u;
    int n;
    int ep;
    struct sockaddr_storage to;
    int plain;                  /* 1: to a sink (bare bytes, one byte back), 0: ternd */
    uint64_t start_ns, stop_ns; /* uploads start in [start_ns, stop_ns) */
    double rate;                /* uploads started per second at most (0: back to back) */
    uint64_t started;
    upstats st;
    char *buf;
    int running;
    uv_thread_t th;
} upool;

/* n clients of cfg.upload_size random bytes, each with a token of user b->conns[i]. 0/-1. */
int upool_init(upool *P, bench *b, int n);
/* Starts the pool's thread: uploads to `to` (ternd when plain is 0, else a sink) until
 * stop_ns, then waits for the last answers (60 s at most). Resets P->st. 0 or -1. */
int upool_start(upool *P, const struct sockaddr_storage *to, int plain, uint64_t stop_ns);
void upool_join(upool *P);
void upool_free(upool *P);

/* The plain sink: a thread per connection copies size bytes into a file of dir, fsyncs
 * it and answers "k". The files are removed at sink_stop. */
typedef struct sink {
    int lfd;
    struct sockaddr_storage addr; /* where it listens (127.0.0.1) */
    char dir[512];
    uint64_t size;
    int stop, active; /* atomics */
    uint64_t files;
    uv_thread_t th;
} sink;

int sink_start(sink *k, const char *dir, uint64_t size);
/* A listening TCP socket on 127.0.0.1 and a free port (its address in *addr), or -1. */
int loopback_listen(struct sockaddr_storage *addr, int backlog);
/* The head of an upload of size bytes to ternd with the bearer tok, into out: its length,
 * or -1 if it does not fit. */
int upload_head(const bench_cfg *cfg, const char *tok, uint64_t size, char *out, size_t outsz);
/* Stops accepting, waits for the copies in progress (30 s at most), removes the files. */
void sink_stop(sink *k);

/* ---- client.c: the WebSocket client threads ------------------------------------------ */

/* Hands out to the kernel: a direct write first, the remainder through uv_write (out
 * and inflight swap; *writing is set until cb runs, which must reset inflight and
 * *writing and flush again). Returns 0, or a libuv error for the caller to end the
 * connection with. */
int bench_flush(uv_stream_t *st, uv_write_t *req, tern_buf *out, tern_buf *inflight, uint8_t *writing, uv_write_cb cb);
/* Builds the send templates of every sender (after the plan exists). */
int client_prepare(bench *b);
/* Starts the threads; they connect and log in at once. 0 or -1. */
int client_start(bench *b);
/* Wakes every thread (after a phase change). */
void client_wake(bench *b);
/* Joins the threads (after PH_STOP) and frees per-thread loop state. */
void client_join(bench *b);
void client_free(bench *b);

/* ---- sysstat.c ----------------------------------------------------------------------- */

/* utime+stime of pid in microseconds, or -1. */
int64_t sys_proc_cpu_us(int pid);
/* VmRSS of pid in KiB, or -1. */
int64_t sys_proc_rss_kib(int pid);
/* VmHWM (peak RSS) of pid in KiB, or -1. */
int64_t sys_proc_hwm_kib(int pid);
/* This process's user+system CPU in microseconds. */
int64_t sys_self_cpu_us(void);
/* CPU time of the whole machine from /proc/stat (all CPUs): busy (not idle or iowait)
 * and total, in microseconds. 0 or -1. */
int sys_machine_cpu_us(int64_t *busy_us, int64_t *total_us);
/* Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
long sys_raise_nofile(void);

#endif
