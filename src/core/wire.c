/* wire.c — encoders of shared wire JSON; see wire.h. */
#include "core/wire.h"

#include <string.h>

#include "core/alloc.h"
#include "core/id.h"

static char *put_u64(char *o, uint64_t v)
{
    char tmp[21];
    int n = tern_id_format(v, tmp);
    memcpy(o, tmp, (size_t)n);
    return o + n;
}

char *tern_wire_stored_msg(uint64_t id, uint64_t seq, int64_t time_ms, const char *fields, size_t fields_len,
                           size_t *len)
{
    return tern_wire_stored_msg_tail(id, seq, time_ms, fields, fields_len, NULL, 0, len);
}

char *tern_wire_stored_msg_tail(uint64_t id, uint64_t seq, int64_t time_ms, const char *fields, size_t fields_len,
                                const char *tail, size_t tail_len, size_t *len)
{
    /* 42 bytes of punctuation and names, three numbers of at most 20 digits, the NUL. */
    char *j = tern_malloc(fields_len + tail_len + TERN_WIRE_STORED_MSG_OVERHEAD);
    *len = 0;
    if (!j)
        return NULL;
    char *o = j;
    memcpy(o, "{\"msgId\":\"", 10);
    o = put_u64(o + 10, id);
    memcpy(o, "\",\"seq\":", 8);
    o = put_u64(o + 8, seq);
    memcpy(o, ",\"time\":", 8);
    o = put_u64(o + 8, time_ms < 0 ? 0 : (uint64_t)time_ms);
    if (fields_len) {
        *o++ = ',';
        memcpy(o, fields, fields_len);
        o += fields_len;
    }
    if (tail_len) {
        memcpy(o, tail, tail_len);
        o += tail_len;
    }
    *o++ = '}';
    *o = 0;
    *len = (size_t)(o - j);
    return j;
}
