
/*
 * Copyright (C) ngx_sfn authors
 *
 * The engine's small helpers: the arena, strings and growable buffers,
 * runtime errors, RFC 3339 timestamps, base64 and UUIDs.  JSON text is in
 * sfn_json.c.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <errno.h>

#include "sfn_core.h"


#define SFN_POOL_CHUNK  8192

/*
 * The chunks of arenas dropped on this thread wait here for the next
 * arena, up to SFN_POOL_CACHE of them: an execution's payloads and
 * evaluations come and go by the dozen, and memory returned to malloc at
 * the end of each comes back as fresh pages, faulted in again.  Under
 * AddressSanitizer every chunk goes back to malloc, which then catches a
 * use after the arena is dropped.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SFN_POOL_CACHE  0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SFN_POOL_CACHE  0
#endif
#endif

#ifndef SFN_POOL_CACHE
#define SFN_POOL_CACHE  128
#endif


struct sfn_pool_chunk_s {
    sfn_pool_chunk_t     *next;
    size_t                size;
    size_t                used;
    /* data follows, max_align_t aligned */
};


#define SFN_CHUNK_HDR                                                         \
    ((sizeof(sfn_pool_chunk_t) + sizeof(max_align_t) - 1)                     \
     & ~(sizeof(max_align_t) - 1))


static __thread sfn_pool_chunk_t  *sfn_pool_free;
static __thread size_t             sfn_pool_nfree;


void *
sfn_palloc(sfn_pool_t *pool, size_t size)
{
    size_t             n;
    sfn_pool_chunk_t  *c;

    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    c = pool->chunk;

    if (c == NULL || c->size - c->used < size) {
        n = size > SFN_POOL_CHUNK / 2 ? size : SFN_POOL_CHUNK;

        if (n == SFN_POOL_CHUNK && sfn_pool_free != NULL) {
            c = sfn_pool_free;
            sfn_pool_free = c->next;
            sfn_pool_nfree--;

        } else {
            c = malloc(SFN_CHUNK_HDR + n);
            if (c == NULL) {
                return NULL;
            }
        }

        c->size = n;
        c->used = 0;

        if (pool->chunk && n != SFN_POOL_CHUNK) {
            /* a big block: keep the current chunk on top */
            c->next = pool->chunk->next;
            pool->chunk->next = c;

        } else {
            c->next = pool->chunk;
            pool->chunk = c;
        }
    }

    c->used += size;

    return (char *) c + SFN_CHUNK_HDR + c->used - size;
}


void *
sfn_pcalloc(sfn_pool_t *pool, size_t size)
{
    void  *p;

    p = sfn_palloc(pool, size);
    if (p) {
        memset(p, 0, size);
    }

    return p;
}


char *
sfn_pstrndup(sfn_pool_t *pool, const char *s, size_t len)
{
    char  *p;

    p = sfn_palloc(pool, len + 1);
    if (p) {
        if (len) {
            memcpy(p, s, len);      /* an empty name may have no text */
        }
        p[len] = '\0';
    }

    return p;
}


char *
sfn_pstrdup(sfn_pool_t *pool, const char *s)
{
    return sfn_pstrndup(pool, s, strlen(s));
}


void
sfn_pool_destroy(sfn_pool_t *pool)
{
    sfn_pool_chunk_t  *c, *next;

    for (c = pool->chunk; c; c = next) {
        next = c->next;

        if (c->size == SFN_POOL_CHUNK && sfn_pool_nfree < SFN_POOL_CACHE) {
            c->next = sfn_pool_free;
            sfn_pool_free = c;
            sfn_pool_nfree++;
            continue;
        }

        free(c);
    }

    pool->chunk = NULL;
}


char *
sfn_strndup(const char *s, size_t len)
{
    char  *p;

    p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }

    return p;
}


char *
sfn_strdup(const char *s)
{
    return s ? sfn_strndup(s, strlen(s)) : NULL;
}


void
sfn_buf_reserve(sfn_buf_t *b, size_t n)
{
    char    *p;
    size_t   cap;

    if (b->failed || b->cap - b->len > n) {
        return;
    }

    cap = b->cap ? b->cap * 2 : 256;
    while (cap - b->len <= n) {
        cap *= 2;
    }

    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return;
    }

    b->data = p;
    b->cap = cap;
}


void
sfn_buf_add(sfn_buf_t *b, const char *s, size_t len)
{
    sfn_buf_reserve(b, len);
    if (b->failed) {
        return;
    }

    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}


void
sfn_buf_adds(sfn_buf_t *b, const char *s)
{
    sfn_buf_add(b, s, strlen(s));
}


void
sfn_buf_addc(sfn_buf_t *b, char c)
{
    if (b->cap - b->len > 1) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return;
    }

    sfn_buf_add(b, &c, 1);
}


void
sfn_buf_printf(sfn_buf_t *b, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    if (n < 0) {
        b->failed = 1;
        return;
    }

    sfn_buf_reserve(b, n + 1);
    if (b->failed) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(b->data + b->len, n + 1, fmt, ap);
    va_end(ap);

    b->len += n;
}


char *
sfn_buf_detach(sfn_buf_t *b)
{
    char  *p;

    if (b->failed) {
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
        return NULL;
    }

    if (b->data == NULL) {
        return sfn_strdup("");
    }

    p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;

    return p;
}


void
sfn_buf_free(sfn_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}


void
sfn_err_set(sfn_err_t *err, const char *error, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    sfn_err_clear(err);

    err->error = sfn_strdup(error);

    if (fmt == NULL) {
        return;
    }

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    if (n < 0) {
        return;
    }

    err->cause = malloc(n + 1);
    if (err->cause == NULL) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(err->cause, n + 1, fmt, ap);
    va_end(ap);
}


void
sfn_err_move(sfn_err_t *dst, sfn_err_t *src)
{
    sfn_err_clear(dst);
    *dst = *src;
    src->error = NULL;
    src->cause = NULL;
}


void
sfn_err_clear(sfn_err_t *err)
{
    free(err->error);
    free(err->cause);
    err->error = NULL;
    err->cause = NULL;
}


static int64_t
sfn_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t   era;
    unsigned  yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}


static int
sfn_digits(const char *s, size_t n, int *out)
{
    size_t  i;
    int     v;

    v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }

    *out = v;

    return 0;
}


/*
 * RFC 3339 as AWS wants it: uppercase T, and Z or a numeric offset;
 * fractions of any length.
 */
int
sfn_time_parse(const char *s, size_t len, int64_t *sec, int32_t *nsec)
{
    int         y, mo, d, h, mi, se, oh, om, mdays, frac, n;
    size_t      i;
    int64_t     t;
    static int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (len < 20
        || sfn_digits(s, 4, &y) || s[4] != '-'
        || sfn_digits(s + 5, 2, &mo) || s[7] != '-'
        || sfn_digits(s + 8, 2, &d) || s[10] != 'T'
        || sfn_digits(s + 11, 2, &h) || s[13] != ':'
        || sfn_digits(s + 14, 2, &mi) || s[16] != ':'
        || sfn_digits(s + 17, 2, &se))
    {
        return -1;
    }

    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) {
        return -1;
    }

    mdays = days[mo - 1];
    if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        mdays = 29;
    }

    if (d > mdays) {
        return -1;
    }

    i = 19;
    frac = 0;

    if (i < len && s[i] == '.') {
        i++;
        n = 0;

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (n < 9) {
                frac = frac * 10 + (s[i] - '0');
            }
            n++;
            i++;
        }

        if (n == 0) {
            return -1;
        }

        for ( /* void */ ; n < 9; n++) {
            frac *= 10;
        }
    }

    if (i >= len) {
        return -1;
    }

    oh = om = 0;

    if (s[i] == 'Z') {
        i++;

    } else if (s[i] == '+' || s[i] == '-') {
        if (len - i != 6 || sfn_digits(s + i + 1, 2, &oh) || s[i + 3] != ':'
            || sfn_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
        {
            return -1;
        }

        if (s[i] == '-') {
            oh = -oh;
            om = -om;
        }

        i += 6;

    } else {
        return -1;
    }

    if (i != len) {
        return -1;
    }

    t = sfn_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    t -= oh * 3600 + om * 60;

    *sec = t;
    *nsec = frac;

    return 0;
}


void
sfn_time_format(int64_t ms, char *buf)
{
    time_t     t;
    struct tm  tm;
    int64_t    frac;

    frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
    }

    t = (time_t) ((ms - frac) / 1000);
    gmtime_r(&t, &tm);

    snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int) frac);
}


static const char  sfn_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


size_t
sfn_base64_encode(const unsigned char *src, size_t len, char *dst)
{
    char    *d;
    size_t   i;

    d = dst;

    for (i = 0; i + 2 < len; i += 3) {
        *d++ = sfn_b64[src[i] >> 2];
        *d++ = sfn_b64[((src[i] & 3) << 4) | (src[i + 1] >> 4)];
        *d++ = sfn_b64[((src[i + 1] & 15) << 2) | (src[i + 2] >> 6)];
        *d++ = sfn_b64[src[i + 2] & 63];
    }

    if (len - i == 1) {
        *d++ = sfn_b64[src[i] >> 2];
        *d++ = sfn_b64[(src[i] & 3) << 4];
        *d++ = '=';
        *d++ = '=';

    } else if (len - i == 2) {
        *d++ = sfn_b64[src[i] >> 2];
        *d++ = sfn_b64[((src[i] & 3) << 4) | (src[i + 1] >> 4)];
        *d++ = sfn_b64[(src[i + 1] & 15) << 2];
        *d++ = '=';
    }

    *d = '\0';

    return d - dst;
}


static int
sfn_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}


/* strict RFC 4648 with padding; dst holds len / 4 * 3 bytes */
int
sfn_base64_decode(const char *src, size_t len, unsigned char *dst,
    size_t *out)
{
    int      v[4], k;
    size_t   i, n, pad;

    if (len % 4) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i += 4) {
        pad = 0;

        for (k = 0; k < 4; k++) {
            if (src[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }

            if (pad) {
                return -1;
            }

            v[k] = sfn_b64_value(src[i + k]);
            if (v[k] < 0) {
                return -1;
            }
        }

        dst[n++] = (unsigned char) ((v[0] << 2) | (v[1] >> 4));
        if (pad < 2) {
            dst[n++] = (unsigned char) (((v[1] & 15) << 4) | (v[2] >> 2));
        }
        if (pad < 1) {
            dst[n++] = (unsigned char) (((v[2] & 3) << 6) | v[3]);
        }
    }

    *out = n;

    return 0;
}


void
sfn_uuid_format(const unsigned char r[16], char *buf)
{
    int            i;
    char          *p;
    unsigned char  u[16];

    static const char  hex[] = "0123456789abcdef";

    memcpy(u, r, 16);
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;

    p = buf;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }

        *p++ = hex[u[i] >> 4];
        *p++ = hex[u[i] & 15];
    }

    *p = '\0';
}
