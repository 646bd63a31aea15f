/*
 * multipart.h — a streaming (push) parser for multipart/form-data request bodies
 * (RFC 7578 on the RFC 2046 §5.1.1 syntax), for Easemob's `POST /{org}/{app}/chatfiles`.
 *
 * The media service feeds the body in whatever pieces the HTTP layer delivers
 * (src/net/http_stream.c), down to one byte at a time, and gets callbacks: part_begin
 * with the part's parsed headers, part_data with its bytes as they arrive (to be written
 * to disk at once), part_end, and done at the closing delimiter. No part is ever held
 * in memory: the parser keeps one part's header block (at most TERN_MP_MAX_HEADER
 * bytes) and, of the data, only the count of bytes that may begin a delimiter — never
 * more than boundary length + 3 bytes, and those are known to equal the start of the
 * delimiter, so they are not even copied. A tern_mp is a plain struct of about 16 KiB
 * with no heap memory: the caller allocates it (not on a small stack) and needs no free.
 *
 * Syntax decisions (each tested in tests/unit/test_multipart.c):
 *   - Delimiters are CRLF "--" boundary; the first may open the body without the CRLF.
 *     The preamble before it and the epilogue after the closing delimiter are ignored.
 *   - Strict RFC 2046: the delimiter must not occur inside a part, so every occurrence
 *     of CRLF "--" boundary is one, and it must be followed by optional spaces/tabs and
 *     CRLF, or by "--" (close). Anything else is TERN_MP_EDELIM. A partial match
 *     ("--boundar" and then something else) is ordinary data.
 *   - Header lines end in CRLF (a bare CR or LF is TERN_MP_EHEADER); obsolete folding
 *     (CRLF + space/tab) is unfolded. Only Content-Disposition (type "form-data", params
 *     name, filename, filename*) and Content-Type are read; other fields are checked for
 *     syntax only, Content-Transfer-Encoding is ignored (RFC 7578 §4.7).
 *   - Quoted strings: `\"` and `\\` are escapes; a backslash before any other byte is
 *     kept, so old browsers' `C:\dir\f.txt` arrives whole. Bytes >= 0x80 are allowed
 *     (browsers send UTF-8 file names raw); other control bytes but tab are refused.
 *   - filename* (RFC 5987/8187, UTF-8 or ISO-8859-1, percent-decoded) wins over
 *     filename (RFC 6266 §4.3); another charset makes it ignored. The name is reported
 *     raw: run it through tern_mp_safe_filename before it names anything.
 */
#ifndef TERN_CORE_MULTIPART_H
#define TERN_CORE_MULTIPART_H
#include <stddef.h>
#include <stdint.h>

#define TERN_MP_BOUNDARY_MAX 70      /* RFC 2046: 1..70 characters */
#define TERN_MP_MAX_HEADER 8192      /* one part's header block, CRLFs and the blank line included */
#define TERN_MP_DEFAULT_MAX_PARTS 16 /* tern_mp_init's max_parts when given 0 */
#define TERN_MP_FILENAME_MAX 255     /* bytes, tern_mp_safe_filename's longest result */

/* Results. tern_mp_feed returns TERN_MP_OK (more body wanted) or TERN_MP_DONE (the
 * closing delimiter has been seen; whatever follows is epilogue and ignored); every
 * other result is negative. Errors are sticky: once one is returned, feed and finish
 * return it again and no callback runs any more. */
enum {
    TERN_MP_OK = 0,
    TERN_MP_DONE = 1,
    TERN_MP_ETYPE = -1,        /* tern_mp_boundary: the media type is not multipart/form-data */
    TERN_MP_EBOUNDARY = -2,    /* no boundary parameter, or one that is not 1..70 bchars (RFC 2046) */
    TERN_MP_EDELIM = -3,       /* a delimiter followed by something other than padding + CRLF or "--" */
    TERN_MP_EHEADER = -4,      /* malformed part header: bare CR/LF, control byte, field syntax,
                                * Content-Disposition not "form-data" or with bad or repeated
                                * parameters, repeated Content-Type/-Disposition */
    TERN_MP_EHEADER_SIZE = -5, /* a part's header block over TERN_MP_MAX_HEADER bytes */
    TERN_MP_ETOO_MANY = -6,    /* more parts than max_parts */
    TERN_MP_ENODELIM = -7,     /* finish: the body never contained the opening delimiter */
    TERN_MP_ETRUNCATED = -8,   /* finish: the body ended before the closing delimiter */
    TERN_MP_ESTOPPED = -9,     /* a callback returned non-zero */
};

/* One part's headers, as given to part_begin; the pointers are valid during the call
 * only. Each string is NUL-terminated for convenience but may hold any byte, NUL
 * included (filename* can percent-encode one): use the lengths. NULL (length 0) when
 * absent. */
typedef struct tern_mp_part {
    unsigned index; /* 0 for the first part */
    const char *name;
    size_t name_len;
    const char *filename; /* raw: filename* decoded if present and usable, else filename */
    size_t filename_len;
    const char *content_type; /* the field value, trimmed (absent: text/plain per RFC 7578) */
    size_t content_type_len;
} tern_mp_part;

/* Callbacks, each optional (NULL). ud is tern_mp_init's. data points into the fed piece
 * or into the parser and is valid during the call only. A part's data may come in any
 * number of calls (none for an empty part). A non-zero return stops the parse: the
 * feed in progress returns TERN_MP_ESTOPPED (the callback keeps its reason in ud). */
typedef struct tern_mp_callbacks {
    int (*part_begin)(void *ud, const tern_mp_part *part);
    int (*part_data)(void *ud, const char *data, size_t n);
    int (*part_end)(void *ud);
    int (*done)(void *ud); /* the closing delimiter, after the last part_end */
} tern_mp_callbacks;

/* The parser. Members are private; allocate it and pass it to tern_mp_init. */
typedef struct tern_mp {
    const tern_mp_callbacks *cb;
    void *ud;
    int state;
    int err; /* sticky result, 0 while fine */
    unsigned max_parts;
    unsigned nparts;                      /* parts begun */
    int in_part;                          /* between part_begin and part_end */
    int seen_delim;                       /* the opening delimiter was found */
    size_t dlen;                          /* delimiter length: 4 + boundary length */
    size_t k;                             /* delimiter bytes matched and held back, all from earlier pieces */
    size_t hlen;                          /* header block bytes collected */
    uint64_t epilogue;                    /* bytes ignored after the closing delimiter */
    char delim[TERN_MP_BOUNDARY_MAX + 5]; /* "\r\n--" boundary, NUL-terminated */
    char hdr[TERN_MP_MAX_HEADER];
    char val[TERN_MP_MAX_HEADER]; /* decoded name, filename and content type */
} tern_mp;

/* Extracts the boundary parameter of a Content-Type value ct[0..n) (not NUL-terminated;
 * network bytes), which must be multipart/form-data (case-insensitive). The boundary may
 * be a token or a quoted string; it must be 1..70 RFC 2046 bchars, not ending in a
 * space. Writes it NUL-terminated to out. Returns its length (1..70), TERN_MP_ETYPE,
 * or TERN_MP_EBOUNDARY (absent, given twice, malformed, or does not fit outsz; 71 bytes
 * always do). */
int tern_mp_boundary(const char *ct, size_t n, char *out, size_t outsz);

/* Prepares p to parse a body delimited by boundary (NUL-terminated, as written by
 * tern_mp_boundary; it is copied). max_parts bounds the number of parts (0:
 * TERN_MP_DEFAULT_MAX_PARTS). cb is kept by pointer and must outlive the parse. Returns
 * TERN_MP_OK, or TERN_MP_EBOUNDARY if boundary is not 1..70 bchars. */
int tern_mp_init(tern_mp *p, const char *boundary, unsigned max_parts, const tern_mp_callbacks *cb, void *ud);

/* Parses the next piece data[0..n) of the body (any size, 0 included). Returns
 * TERN_MP_OK, TERN_MP_DONE, or an error (see the enum); callbacks run from inside. */
int tern_mp_feed(tern_mp *p, const char *data, size_t n);

/* The body has ended. Returns TERN_MP_OK if the closing delimiter came, else the sticky
 * error, TERN_MP_ENODELIM or TERN_MP_ETRUNCATED. An open part gets no part_end: on any
 * error the caller discards what it wrote. */
int tern_mp_finish(tern_mp *p);

/* A short English description of a TERN_MP_* result (static storage). */
const char *tern_mp_strerror(int rc);

/* Makes a file name that is safe to store and show from a client's raw name in[0..n):
 * only the part after the last '/' or '\', no leading dots or spaces, every control
 * byte (C0, DEL, C1) and every byte of invalid UTF-8 replaced by '_', at most
 * TERN_MP_FILENAME_MAX bytes (cut at a character boundary, keeping an extension of up
 * to 16 bytes), "file" when nothing is left. The result may still hold '"', ';' or '%':
 * quote or encode it in headers. Writes it NUL-terminated to out; outsz must be at
 * least 5. Returns its length, or -1 if outsz < 5. */
int tern_mp_safe_filename(const char *in, size_t n, char *out, size_t outsz);

#endif
