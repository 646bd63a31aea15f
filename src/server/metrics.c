/* metrics.c — /metrics in the Prometheus text format (docs/operations.md lists them). */
#include "metrics.h"

#include "core/alloc.h"
#include "ratelimit.h"
#include "hooks/webhook.h"
#include "stream.h"

static void counter(tern_buf *b, const char *name, const char *help, const char *type, unsigned long long v)
{
    tern_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

void metrics_write(server *s, tern_buf *b)
{
    store_stats st = {0};
    store_get_stats(s->st, &st);
    net_stats *ns = net_get_stats(s->net);
    counter(b, "tern_connections", "Open TCP connections (HTTP and WebSocket).", "gauge",
            (unsigned long long)atomic_load(&ns->conns));
    counter(b, "tern_sessions", "Logged-in WebSocket sessions.", "gauge",
            (unsigned long long)registry_sessions(s->reg));
    counter(b, "tern_messages_in_total", "Messages accepted and committed.", "counter",
            (unsigned long long)atomic_load(&s->m_msgs_in));
    counter(b, "tern_messages_out_total", "Frames pushed to sessions (deliveries and events).", "counter",
            (unsigned long long)registry_pushes(s->reg));
    counter(b, "tern_http_requests_total", "HTTP requests parsed (REST, health, metrics, upgrades).", "counter",
            (unsigned long long)atomic_load(&ns->http_requests));
    counter(b, "tern_send_queue_drops_total", "Connections closed because their send queue overflowed (4001).",
            "counter", (unsigned long long)atomic_load(&ns->slow_drops));
    counter(b, "tern_io_uring_loops", "I/O loops writing through io_uring (0: every loop uses writev).", "gauge",
            (unsigned long long)atomic_load(&ns->uring_loops));
    counter(b, "tern_io_uring_sends_total", "Connection writes submitted through io_uring.", "counter",
            (unsigned long long)atomic_load(&ns->uring_sends));
    counter(b, "tern_accept_shed_total",
            "New connections accepted and closed at once because the process was out of file descriptors.", "counter",
            (unsigned long long)atomic_load(&ns->accept_shed));
    counter(b, "tern_http_timeouts_total", "HTTP requests cut (408) by the head deadline or the minimum body rate.",
            "counter", (unsigned long long)atomic_load(&ns->http_timeouts));
    counter(b, "tern_store_batches_total", "Store transactions committed.", "counter", (unsigned long long)st.batches);
    counter(b, "tern_store_ops_total", "Store operations committed.", "counter", (unsigned long long)st.ops);
    tern_buf_printf(b,
                    "# HELP tern_store_commit_seconds_total Time spent in store transactions (sum).\n"
                    "# TYPE tern_store_commit_seconds_total counter\ntern_store_commit_seconds_total %.6f\n",
                    (double)st.commit_ns / 1e9);
    counter(b, "tern_store_queue_depth", "Operations waiting for the store writer.", "gauge",
            (unsigned long long)st.queued);
    counter(b, "tern_store_batch_max", "Largest batch committed.", "gauge", (unsigned long long)st.max_batch);
    stream_stats ss;
    stream_get_stats(s, &ss);
    counter(b, "tern_streams_open", "Streamed messages open now.", "gauge", (unsigned long long)ss.open);
    counter(b, "tern_stream_chunks_total", "Stream chunks committed (first chunks included).", "counter",
            (unsigned long long)ss.chunks);
    counter(b, "tern_stream_rate_limited_total", "Stream requests refused by the per-app rate (429).", "counter",
            (unsigned long long)ss.rate_limited);
    counter(b, "tern_streams_ended_total", "Streams ended by a limit, the sweeper or a store failure.", "counter",
            (unsigned long long)ss.ended);
    counter(b, "tern_group_msgs_shed_total",
            "Group messages shed by the group rate (groupMsgRate): answered success, not stored or delivered.",
            "counter", (unsigned long long)ratelimit_shed_total(s));
    counter(b, "tern_rest_group_send_limited_total",
            "REST group sends refused with 429 by the app's restGroupSendRate.", "counter",
            (unsigned long long)ratelimit_rest_limited_total(s));
    webhook_stats ws;
    webhook_get_stats(s, &ws);
    counter(b, "tern_webhook_queue", "Webhook requests (push, callbacks) waiting or in flight.", "gauge",
            (unsigned long long)ws.queued);
    counter(b, "tern_webhook_sent_total", "Webhook requests answered with a 2xx status.", "counter",
            (unsigned long long)ws.sent);
    counter(b, "tern_webhook_failed_total", "Webhook requests that ended without a 2xx answer after their tries.",
            "counter", (unsigned long long)ws.failed);
    counter(b, "tern_webhook_retries_total", "Webhook attempts after a first one.", "counter",
            (unsigned long long)ws.retries);
    counter(b, "tern_webhook_dropped_total", "Webhook requests refused because the queue was full (or stopping).",
            "counter", (unsigned long long)ws.dropped);
    counter(b, "tern_memory_bytes", "Heap bytes allocated through ternd's allocator.", "gauge",
            (unsigned long long)tern_mem_used());
}
