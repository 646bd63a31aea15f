/*
 * buf.h — growable byte buffer with a ceiling, plus JSON-writing helpers.
 *
 * Every buffer a peer can grow has a maximum (`max`, 0 = unbounded for buffers only we
 * fill). Appends past the maximum fail with -1 and leave the buffer unchanged, so the
 * caller answers with an error instead of growing without bound. `data` is always
 * NUL-terminated after a successful append (the NUL is not counted in len).
 */
#ifndef TERN_CORE_BUF_H
#define TERN_CORE_BUF_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tern_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0: no ceiling */
} tern_buf;

/* A borrowed slice: pointer + length, never NUL-terminated by contract. */
typedef struct tern_str {
    const char *p;
    size_t n;
} tern_str;

#define TERN_STR_LIT(s) ((tern_str){(s), sizeof(s) - 1})

void tern_buf_init(tern_buf *b, size_t max);
void tern_buf_free(tern_buf *b);  /* frees data, keeps max; safe on a zeroed buf */
void tern_buf_reset(tern_buf *b); /* len = 0, keeps memory */
/* Ensures room for `extra` more bytes (+NUL). 0 or -1 if over max. */
int tern_buf_reserve(tern_buf *b, size_t extra);
int tern_buf_append(tern_buf *b, const void *p, size_t n);
int tern_buf_puts(tern_buf *b, const char *s);
int tern_buf_putc(tern_buf *b, char c);
int tern_buf_printf(tern_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tern_buf_vprintf(tern_buf *b, const char *fmt, va_list ap);
/* Removes the first n bytes. */
void tern_buf_consume(tern_buf *b, size_t n);
/* Takes ownership of the data (caller frees with tern_free); buffer becomes empty. */
char *tern_buf_steal(tern_buf *b, size_t *len);

/* JSON writers: append a quoted, escaped JSON string (input must be valid UTF-8),
 * a signed/unsigned integer, or a 64-bit id as a quoted decimal string. */
int tern_buf_json_str(tern_buf *b, const char *s, size_t n);
int tern_buf_json_i64(tern_buf *b, int64_t v);
int tern_buf_json_u64str(tern_buf *b, uint64_t v);

int tern_str_eq(tern_str a, const char *lit);

#endif
