
/*
 * Copyright (C) ngx_sfn authors
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <errno.h>

#include "sfn_core.h"


#define SFN_POOL_CHUNK  8192


struct sfn_pool_chunk_s {
    sfn_pool_chunk_t     *next;
    size_t                size;
    size_t                used;
    /* data follows, max_align_t aligned */
};


#define SFN_CHUNK_HDR                                                         \
    ((sizeof(sfn_pool_chunk_t) + sizeof(max_align_t) - 1)                     \
     & ~(sizeof(max_align_t) - 1))


void *
sfn_palloc(sfn_pool_t *pool, size_t size)
{
    size_t             n;
    sfn_pool_chunk_t  *c;

    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    c = pool->chunk;

    if (c == NULL || c->size - c->used < size) {
        n = size > SFN_POOL_CHUNK / 2 ? size : SFN_POOL_CHUNK;
        c = malloc(SFN_CHUNK_HDR + n);
        if (c == NULL) {
            return NULL;
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
        memcpy(p, s, len);
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


static void
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


static size_t
sfn_json_string_size(const char *s, size_t len)
{
    size_t          n, i;
    unsigned char   c;

    n = 2;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n'
            || c == '\r' || c == '\t')
        {
            n += 2;

        } else if (c < 0x20) {
            n += 6;

        } else if (c == 0xc0 && i + 1 < len && (unsigned char) s[i + 1] == 0x80)
        {
            /* the engine's U+0000, written \u0000 */
            n += 6;
            i++;

        } else {
            n++;
        }
    }

    return n;
}


void
sfn_buf_json_string(sfn_buf_t *b, const char *s, size_t len)
{
    size_t          i, start;
    unsigned char   c;
    char            esc[8];

    /* the common case first: nothing to escape */
    sfn_buf_reserve(b, len + 2);

    sfn_buf_addc(b, '"');

    start = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c != '"' && c != '\\' && c != 0xc0) {
            continue;
        }

        if (c == 0xc0) {
            if (i + 1 == len || (unsigned char) s[i + 1] != 0x80) {
                continue;
            }

            sfn_buf_add(b, s + start, i - start);
            sfn_buf_add(b, "\\u0000", 6);
            start = ++i + 1;
            continue;
        }

        sfn_buf_add(b, s + start, i - start);
        start = i + 1;

        switch (c) {
        case '"':  sfn_buf_add(b, "\\\"", 2); break;
        case '\\': sfn_buf_add(b, "\\\\", 2); break;
        case '\b': sfn_buf_add(b, "\\b", 2); break;
        case '\f': sfn_buf_add(b, "\\f", 2); break;
        case '\n': sfn_buf_add(b, "\\n", 2); break;
        case '\r': sfn_buf_add(b, "\\r", 2); break;
        case '\t': sfn_buf_add(b, "\\t", 2); break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            sfn_buf_add(b, esc, 6);
        }
    }

    sfn_buf_add(b, s + start, len - start);
    sfn_buf_addc(b, '"');
}


static size_t
sfn_int_format(int64_t v, char *buf)
{
    char      tmp[24], *p;
    size_t    n;
    uint64_t  u;

    u = v < 0 ? (uint64_t) -v : (uint64_t) v;
    p = tmp + sizeof(tmp);

    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (v < 0) {
        *--p = '-';
    }

    n = tmp + sizeof(tmp) - p;
    memcpy(buf, p, n);
    buf[n] = '\0';

    return n;
}


static size_t
sfn_number_format(double d, char *buf)
{
    int     n;
    double  back;

    if (isnan(d) || isinf(d)) {
        memcpy(buf, "null", 5);
        return 4;
    }

    if (d == floor(d) && fabs(d) < 1e15) {
        return sfn_int_format((int64_t) d, buf);
    }

    for (n = 15; n <= 17; n++) {
        snprintf(buf, 32, "%.*g", n, d);
        back = strtod(buf, NULL);
        if (back == d) {
            break;
        }
    }

    return strlen(buf);
}


void
sfn_buf_number(sfn_buf_t *b, double d)
{
    size_t  n;
    char    buf[32];

    n = sfn_number_format(d, buf);
    sfn_buf_add(b, buf, n);
}


void
sfn_buf_json(sfn_buf_t *b, const cJSON *v)
{
    const cJSON  *c;

    switch (v->type & 0xff) {

    case cJSON_NULL:
        sfn_buf_add(b, "null", 4);
        return;

    case cJSON_False:
        sfn_buf_add(b, "false", 5);
        return;

    case cJSON_True:
        sfn_buf_add(b, "true", 4);
        return;

    case cJSON_Number:
        sfn_buf_number(b, v->valuedouble);
        return;

    case cJSON_String:
        sfn_buf_json_string(b, v->valuestring, strlen(v->valuestring));
        return;

    case cJSON_Array:
        sfn_buf_addc(b, '[');
        for (c = v->child; c; c = c->next) {
            sfn_buf_json(b, c);
            if (c->next) {
                sfn_buf_addc(b, ',');
            }
        }
        sfn_buf_addc(b, ']');
        return;

    case cJSON_Object:
        sfn_buf_addc(b, '{');
        for (c = v->child; c; c = c->next) {
            sfn_buf_json_string(b, c->string, strlen(c->string));
            sfn_buf_addc(b, ':');
            sfn_buf_json(b, c);
            if (c->next) {
                sfn_buf_addc(b, ',');
            }
        }
        sfn_buf_addc(b, '}');
        return;

    case cJSON_Raw:
        sfn_buf_adds(b, v->valuestring);
        return;

    default:
        sfn_buf_add(b, "null", 4);
    }
}


static char *
sfn_json_write_string(char *p, const char *s)
{
    unsigned char  c;

    static const char  hex[] = "0123456789abcdef";

    *p++ = '"';

    for ( /* void */ ; *s; s++) {
        c = (unsigned char) *s;

        if (c == 0xc0 && (unsigned char) s[1] == 0x80) {
            p = memcpy(p, "\\u0000", 6);
            p += 6;
            s++;
            continue;
        }

        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = (char) c;
            continue;
        }

        *p++ = '\\';

        switch (c) {
        case '"':  *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }

    *p++ = '"';

    return p;
}


/* writes exactly sfn_json_size(v) bytes */
static char *
sfn_json_write(char *p, const cJSON *v)
{
    const cJSON  *c;

    switch (v->type & 0xff) {

    case cJSON_NULL:
        memcpy(p, "null", 4);
        return p + 4;

    case cJSON_False:
        memcpy(p, "false", 5);
        return p + 5;

    case cJSON_True:
        memcpy(p, "true", 4);
        return p + 4;

    case cJSON_Number:
        return p + sfn_number_format(v->valuedouble, p);

    case cJSON_String:
        return sfn_json_write_string(p, v->valuestring);

    case cJSON_Array:
    case cJSON_Object:
        *p++ = (v->type & 0xff) == cJSON_Array ? '[' : '{';

        for (c = v->child; c; c = c->next) {
            if ((v->type & 0xff) == cJSON_Object) {
                p = sfn_json_write_string(p, c->string);
                *p++ = ':';
            }

            p = sfn_json_write(p, c);

            if (c->next) {
                *p++ = ',';
            }
        }

        *p++ = (v->type & 0xff) == cJSON_Array ? ']' : '}';
        return p;

    case cJSON_Raw:
        memcpy(p, v->valuestring, strlen(v->valuestring));
        return p + strlen(v->valuestring);

    default:
        memcpy(p, "null", 4);
        return p + 4;
    }
}


/* one pass to size, one to write: no reallocation, no bounds checks */
char *
sfn_json_print_sized(const cJSON *v, size_t size)
{
    char  *s, *e;

    /* a number is formatted into up to 32 bytes before it is measured */
    s = malloc(size + 32);
    if (s == NULL) {
        return NULL;
    }

    e = sfn_json_write(s, v);
    *e = '\0';

    return s;
}


char *
sfn_json_print(const cJSON *v)
{
    return sfn_json_print_sized(v, sfn_json_size(v));
}


size_t
sfn_json_size(const cJSON *v)
{
    char          buf[32];
    size_t        n;
    const cJSON  *c;

    switch (v->type & 0xff) {

    case cJSON_NULL:
    case cJSON_True:
        return 4;

    case cJSON_False:
        return 5;

    case cJSON_Number:
        return sfn_number_format(v->valuedouble, buf);

    case cJSON_String:
        return sfn_json_string_size(v->valuestring, strlen(v->valuestring));

    case cJSON_Array:
    case cJSON_Object:
        n = 2;
        for (c = v->child; c; c = c->next) {
            if (c->string && (v->type & 0xff) == cJSON_Object) {
                n += sfn_json_string_size(c->string, strlen(c->string)) + 1;
            }
            n += sfn_json_size(c) + (c->next ? 1 : 0);
        }
        return n;

    case cJSON_Raw:
        return strlen(v->valuestring);

    default:
        return 4;
    }
}


int
sfn_json_equal(const cJSON *a, const cJSON *b)
{
    int           ta, tb;
    size_t        na, nb;
    const cJSON  *c, *d;

    ta = a->type & 0xff;
    tb = b->type & 0xff;

    if (ta != tb) {
        return 0;
    }

    switch (ta) {

    case cJSON_Number:
        return a->valuedouble == b->valuedouble;

    case cJSON_String:
        return strcmp(a->valuestring, b->valuestring) == 0;

    case cJSON_Array:
        for (c = a->child, d = b->child; c && d; c = c->next, d = d->next) {
            if (!sfn_json_equal(c, d)) {
                return 0;
            }
        }
        return c == NULL && d == NULL;

    case cJSON_Object:
        na = nb = 0;
        for (c = a->child; c; c = c->next) {
            na++;
        }
        for (c = b->child; c; c = c->next) {
            nb++;
        }
        if (na != nb) {
            return 0;
        }
        for (c = a->child; c; c = c->next) {
            d = cJSON_GetObjectItemCaseSensitive(b, c->string);
            if (d == NULL || !sfn_json_equal(c, d)) {
                return 0;
            }
        }
        return 1;

    default:
        return 1;
    }
}


/*
 * The length of the UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0 when it is not one.
 */
static size_t
sfn_utf8_len(const unsigned char *p, const unsigned char *last)
{
    size_t    n, i;
    uint32_t  c, min;

    c = *p;

    if (c < 0x80) {
        return 1;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; c &= 0x1f; min = 0x80;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3; c &= 0x0f; min = 0x800;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4; c &= 0x07; min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    return n;
}


int
sfn_utf8_valid(const char *text, size_t len)
{
    size_t                n;
    const unsigned char  *p, *last;

    p = (const unsigned char *) text;
    last = p + len;

    while (p < last) {
        n = sfn_utf8_len(p, last);
        if (n == 0) {
            return 0;
        }

        p += n;
    }

    return 1;
}


/*
 * JSON text enters the engine here.  It must be UTF-8 with no raw control
 * character in a string, as AWS's parser demands.  cJSON keeps strings
 * NUL-terminated, so an escaped U+0000 is carried inside the engine as the
 * two bytes C0 80 (modified UTF-8, as the JVM does) and printed back as
 * \u0000; those two bytes are taken as U+0000 in a text too, since tasks
 * print the engine's strings as they are.  Returns the number of \u0000
 * escapes, or -1.
 */
static ssize_t
sfn_json_check(const char *text, size_t len)
{
    size_t                n;
    ssize_t               nuls;
    unsigned              in;
    const unsigned char  *p, *last;

    p = (const unsigned char *) text;
    last = p + len;
    nuls = 0;
    in = 0;

    while (p < last) {

        if (*p == '"') {
            in = !in;
            p++;
            continue;
        }

        if (in && *p == '\\') {
            if (last - p >= 6 && memcmp(p, "\\u0000", 6) == 0) {
                nuls++;
            }

            /* cJSON checks what follows the backslash */
            p += (last - p >= 2) ? 2 : 1;
            continue;
        }

        if (in && *p < 0x20) {
            return -1;
        }

        if (*p == 0xc0 && last - p >= 2 && p[1] == 0x80) {
            p += 2;
            continue;
        }

        n = sfn_utf8_len(p, last);
        if (n == 0) {
            return -1;
        }

        p += n;
    }

    return nuls;
}


/* \u0000 escapes become C0 80, in place: the text only shrinks */
static void
sfn_json_keep_nuls(char *text, size_t *len)
{
    char  *p, *q, *last;

    p = text;
    q = text;
    last = text + *len;

    while (p < last) {
        if (*p == '\\' && last - p >= 2) {
            if (last - p >= 6 && memcmp(p, "\\u0000", 6) == 0) {
                *q++ = (char) 0xc0;
                *q++ = (char) 0x80;
                p += 6;
                continue;
            }

            *q++ = *p++;
        }

        *q++ = *p++;
    }

    *q = '\0';
    *len = q - text;
}


/*
 * Parses exactly len bytes of text, which must be NUL-terminated at len
 * (cJSON wants that, and accepts trailing garbage unless told otherwise).
 */
static cJSON *
sfn_json_parse_terminated(const char *text, size_t len)
{
    cJSON       *v;
    const char  *end;

    v = cJSON_ParseWithLengthOpts(text, len + 1, &end, 0);

    if (v) {
        while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') {
            end++;
        }

        if (end != text + len) {
            cJSON_Delete(v);
            v = NULL;
        }
    }

    return v;
}


cJSON *
sfn_json_parse_text(const char *text, size_t len, int terminated)
{
    char     *copy;
    cJSON    *v;
    ssize_t   nuls;

    nuls = sfn_json_check(text, len);

    if (nuls < 0) {
        return NULL;
    }

    if (nuls == 0 && terminated) {
        return sfn_json_parse_terminated(text, len);
    }

    copy = sfn_strndup(text, len);
    if (copy == NULL) {
        return NULL;
    }

    if (nuls) {
        sfn_json_keep_nuls(copy, &len);
    }

    v = sfn_json_parse_terminated(copy, len);

    free(copy);

    return v;
}


cJSON *
sfn_json_parse(const char *text, size_t len)
{
    return sfn_json_parse_text(text, len, 0);
}


/* Java's toString() of a Jackson-mapped value, as States.Format prints it */
void
sfn_json_tostring(sfn_buf_t *b, const cJSON *v)
{
    const cJSON  *c;

    switch (v->type & 0xff) {

    case cJSON_String:
        sfn_buf_adds(b, v->valuestring);
        return;

    case cJSON_Array:
        sfn_buf_addc(b, '[');
        for (c = v->child; c; c = c->next) {
            sfn_json_tostring(b, c);
            if (c->next) {
                sfn_buf_add(b, ", ", 2);
            }
        }
        sfn_buf_addc(b, ']');
        return;

    case cJSON_Object:
        sfn_buf_addc(b, '{');
        for (c = v->child; c; c = c->next) {
            sfn_buf_adds(b, c->string);
            sfn_buf_addc(b, '=');
            sfn_json_tostring(b, c);
            if (c->next) {
                sfn_buf_add(b, ", ", 2);
            }
        }
        sfn_buf_addc(b, '}');
        return;

    default:
        sfn_buf_json(b, v);
    }
}


int
sfn_json_is_int(const cJSON *v, int64_t *out)
{
    double  d;

    if (v == NULL || !cJSON_IsNumber(v)) {
        return 0;
    }

    d = v->valuedouble;

    if (d != floor(d) || d < -9007199254740992.0 || d > 9007199254740992.0) {
        return 0;
    }

    *out = (int64_t) d;

    return 1;
}


/*
 * A value as AWS quotes it in a States.Runtime cause: a string as it is,
 * anything else as JSON text.
 */

void
sfn_buf_value(sfn_buf_t *b, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        sfn_buf_adds(b, v->valuestring);
        return;
    }

    sfn_buf_json(b, v);
}


/*
 * An integer as AWS reads the *Path fields of a Map state: the value's
 * text (see sfn_buf_value()) must be a decimal integer, so 3 and "3" are
 * 3, while 1.5, "x" and {} are not integers.
 */

int
sfn_json_text_int(const cJSON *v, int64_t *out)
{
    char        *end;
    long long    n;
    const char  *s;

    if (cJSON_IsNumber(v)) {
        return sfn_json_is_int(v, out);
    }

    if (!cJSON_IsString(v)) {
        return 0;
    }

    s = v->valuestring;

    if (*s == '+' || *s == '-') {
        s++;
    }

    if (*s < '0' || *s > '9') {
        return 0;
    }

    errno = 0;
    n = strtoll(v->valuestring, &end, 10);

    if (*end != '\0' || errno == ERANGE) {
        return 0;
    }

    *out = n;

    return 1;
}


/* the same for a float: 12.5 and "12.5" */

int
sfn_json_text_double(const cJSON *v, double *out)
{
    char        *end;
    double       d;
    const char  *s;

    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 1;
    }

    if (!cJSON_IsString(v)) {
        return 0;
    }

    s = v->valuestring;

    if (*s == '+' || *s == '-') {
        s++;
    }

    if ((*s < '0' || *s > '9') && *s != '.') {
        return 0;
    }

    errno = 0;
    d = strtod(v->valuestring, &end);

    if (*end != '\0' || errno == ERANGE || d != d) {
        return 0;
    }

    *out = d;

    return 1;
}


const char *
sfn_json_type_name(const cJSON *v)
{
    switch (v->type & 0xff) {
    case cJSON_NULL:   return "null";
    case cJSON_False:
    case cJSON_True:   return "boolean";
    case cJSON_Number: return "number";
    case cJSON_String: return "string";
    case cJSON_Array:  return "array";
    case cJSON_Object: return "object";
    default:           return "unknown";
    }
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
