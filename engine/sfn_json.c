
/*
 * Copyright (C) ngx_sfn authors
 *
 * JSON text in and out of the engine, and small helpers on JSON values:
 * the printer (sized in one pass, written in another), the strict parser
 * (UTF-8, no raw control characters in strings, U+0000 carried inside the
 * engine as C0 80), equality, Java's toString() of a value as States.Format
 * prints it, and integers and numbers read from values or their text.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <errno.h>
#include <locale.h>
#include <limits.h>

#include "sfn_core.h"


/* the bytes an escape adds to a byte: \" \\ \b \f \n \r \t, or \u00XX */
static const unsigned char  sfn_json_escape_extra[256] = {
    5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
};


/* the size of a NUL-terminated string written as JSON, quotes included */
static size_t
sfn_json_string_size(const char *s)
{
    size_t                n;
    const unsigned char  *p;

    n = 2;

    for (p = (const unsigned char *) s; *p; p++) {
        n += 1 + sfn_json_escape_extra[*p];

        /* the engine's U+0000, two bytes written \u0000 */
        if (*p == 0xc0 && p[1] == 0x80) {
            n += 5;
            p++;
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


/*
 * What "%.15g" writes for d when d is the double nearest to m / 10^k, m an
 * integer of at most 15 digits, 1e-4 <= |d| < 1e15: m with its point, no
 * trailing zeros (d is that close to the decimal, 15 digits give it
 * back).  It is also JavaScript's shortest form of d.  0 when d is not
 * such a number; buf >= 24 bytes.
 */
size_t
sfn_decimal_format(double d, char *buf)
{
    int       k, i;
    char      digits[24], *p;
    double    a, m, scale;
    size_t    n, len;
    uint64_t  u;

    a = fabs(d);

    if (a < 1e-4 || a >= 1e15) {
        return 0;
    }

    scale = 1;

    for (k = 1; k <= 19; k++) {
        scale *= 10;
        m = nearbyint(a * scale);

        if (m >= 1e15) {
            return 0;
        }

        if (m / scale == a) {
            break;
        }
    }

    if (k > 19) {
        return 0;
    }

    u = (uint64_t) m;

    while (k > 0 && u % 10 == 0) {
        u /= 10;
        k--;
    }

    len = 0;
    do {
        digits[len++] = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    p = buf;

    if (d < 0) {
        *p++ = '-';
    }

    if ((int) len <= k) {
        *p++ = '0';
        *p++ = '.';
        for (i = k - (int) len; i > 0; i--) {
            *p++ = '0';
        }
        while (len) {
            *p++ = digits[--len];
        }

    } else {
        while ((int) len > k) {
            *p++ = digits[--len];
        }
        if (k) {
            *p++ = '.';
            while (len) {
                *p++ = digits[--len];
            }
        }
    }

    *p = '\0';
    n = p - buf;

    return n;
}


static size_t
sfn_number_format(double d, char *buf)
{
    int     n;
    double  back;

    /* an integer below 1e15 prints as one (NaN fails every comparison) */
    if (d > -1e15 && d < 1e15 && d == (double) (int64_t) d) {
        return sfn_int_format((int64_t) d, buf);
    }

    if (isnan(d) || isinf(d)) {
        memcpy(buf, "null", 5);
        return 4;
    }

    n = sfn_decimal_format(d, buf);
    if (n) {
        return n;
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
        return sfn_json_string_size(v->valuestring);

    case cJSON_Array:
    case cJSON_Object:
        n = 2;
        for (c = v->child; c; c = c->next) {
            if (c->string && (v->type & 0xff) == cJSON_Object) {
                n += sfn_json_string_size(c->string) + 1;
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


/*
 * Not less than sfn_json_size(v), at a fraction of its cost: a number that
 * is not an integer counts as the longest one "%.17g" writes, unformatted.
 * With ref, an array or object that refers to another tree's nodes
 * (cJSON_IsReference) counts as ref, a bound of that tree's size.
 */
size_t
sfn_json_size_max(const cJSON *v, size_t ref)
{
    double        d;
    size_t        n;
    const cJSON  *c;

    switch (v->type & 0xff) {

    case cJSON_Number:
        d = v->valuedouble;
        if (d > -1e15 && d < 1e15 && d == (double) (int64_t) d) {
            return 16;
        }
        return 24;

    case cJSON_Array:
    case cJSON_Object:
        if (ref && (v->type & cJSON_IsReference)) {
            return ref;
        }

        n = 2;
        for (c = v->child; c; c = c->next) {
            if (c->string && (v->type & 0xff) == cJSON_Object) {
                n += sfn_json_string_size(c->string) + 1;
            }
            n += sfn_json_size_max(c, ref) + 1;
        }
        return n;

    default:
        return sfn_json_size(v);
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
 * JSON text enters the engine here, parsed in one pass straight into cJSON
 * nodes.  It must be RFC 8259 JSON and UTF-8 with no raw control character
 * in a string, as AWS's parser demands; only space, tab, LF and CR are
 * white space, a UTF-8 byte order mark may start it.  cJSON keeps strings
 * NUL-terminated, so an escaped U+0000 is carried inside the engine as the
 * two bytes C0 80 (modified UTF-8, as the JVM does) and printed back as
 * \u0000; those two bytes are taken as U+0000 in a text too, since tasks
 * print the engine's strings as they are.  Containers nest at most
 * CJSON_NESTING_LIMIT deep, as cJSON's own parser allows.
 *
 * The nodes and strings are cJSON_malloc'd one by one, as cJSON_Delete()
 * wants them, or taken from one block (sfn_json_parse_block()): a tree
 * that is read only and freed all at once.
 */

typedef struct {
    const unsigned char  *p;
    const unsigned char  *last;
    unsigned              depth;
    unsigned              block:1;
    cJSON                *node;       /* block: the next free node */
    cJSON                *node_end;
    char                 *byte;       /* block: the next free string byte */
    char                 *byte_end;
} sfn_json_parser_t;


static cJSON *sfn_json_parse_value(sfn_json_parser_t *jp);


/* valueint saturated, as cJSON's parser and cJSON_CreateNumber() set it */
static void
sfn_json_set_number(cJSON *v, double d)
{
    v->valuedouble = d;
    v->valueint = d >= INT_MAX ? INT_MAX
                  : (d <= (double) INT_MIN ? INT_MIN : (int) d);
}


static cJSON *
sfn_json_parse_node(sfn_json_parser_t *jp, int type)
{
    cJSON  *v;

    if (jp->block) {
        if (jp->node == jp->node_end) {
            return NULL;
        }
        v = jp->node++;

    } else {
        v = cJSON_malloc(sizeof(cJSON));
        if (v == NULL) {
            return NULL;
        }
    }

    memset(v, 0, sizeof(cJSON));
    v->type = type;

    return v;
}


static char *
sfn_json_parse_alloc(sfn_json_parser_t *jp, size_t size)
{
    char  *s;

    if (!jp->block) {
        return cJSON_malloc(size);
    }

    if ((size_t) (jp->byte_end - jp->byte) < size) {
        return NULL;
    }

    s = jp->byte;
    jp->byte += size;

    return s;
}


static void
sfn_json_parse_free(sfn_json_parser_t *jp, cJSON *v, char *s)
{
    if (!jp->block) {
        cJSON_Delete(v);
        cJSON_free(s);
    }
}


static void
sfn_json_parse_space(sfn_json_parser_t *jp)
{
    while (jp->p < jp->last
           && (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\r'
               || *jp->p == '\t'))
    {
        jp->p++;
    }
}


static int
sfn_json_parse_hex4(const unsigned char *p, uint32_t *out)
{
    int       i;
    uint32_t  c, v;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;

        } else {
            return -1;
        }

        v = (v << 4) | c;
    }

    *out = v;

    return 0;
}


/*
 * An escape after the backslash at p: its code point in *cp and its length
 * (a surrogate pair is one), or 0 when it is not one.
 */
static size_t
sfn_json_parse_escape(const unsigned char *p, const unsigned char *last,
    uint32_t *cp)
{
    uint32_t  lo;

    if (last - p < 2) {
        return 0;
    }

    switch (p[1]) {
    case '"':  *cp = '"'; return 2;
    case '\\': *cp = '\\'; return 2;
    case '/':  *cp = '/'; return 2;
    case 'b':  *cp = '\b'; return 2;
    case 'f':  *cp = '\f'; return 2;
    case 'n':  *cp = '\n'; return 2;
    case 'r':  *cp = '\r'; return 2;
    case 't':  *cp = '\t'; return 2;
    case 'u':  break;
    default:   return 0;
    }

    if (last - p < 6 || sfn_json_parse_hex4(p + 2, cp) != 0) {
        return 0;
    }

    if (*cp >= 0xdc00 && *cp <= 0xdfff) {
        return 0;
    }

    if (*cp < 0xd800 || *cp > 0xdbff) {
        return 6;
    }

    /* a high surrogate: the low one must follow */
    if (last - p < 12 || p[6] != '\\' || p[7] != 'u'
        || sfn_json_parse_hex4(p + 8, &lo) != 0
        || lo < 0xdc00 || lo > 0xdfff)
    {
        return 0;
    }

    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);

    return 12;
}


/* the UTF-8 of cp at q, U+0000 as C0 80 */
static unsigned char *
sfn_json_parse_utf8(unsigned char *q, uint32_t cp)
{
    if (cp == 0) {
        *q++ = 0xc0;
        *q++ = 0x80;

    } else if (cp < 0x80) {
        *q++ = (unsigned char) cp;

    } else if (cp < 0x800) {
        *q++ = (unsigned char) (0xc0 | (cp >> 6));
        *q++ = (unsigned char) (0x80 | (cp & 0x3f));

    } else if (cp < 0x10000) {
        *q++ = (unsigned char) (0xe0 | (cp >> 12));
        *q++ = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        *q++ = (unsigned char) (0x80 | (cp & 0x3f));

    } else {
        *q++ = (unsigned char) (0xf0 | (cp >> 18));
        *q++ = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
        *q++ = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        *q++ = (unsigned char) (0x80 | (cp & 0x3f));
    }

    return q;
}


/*
 * The length of the run of plain bytes at p (printable ASCII but the
 * quote and the backslash), 8 at a time: a long string is read a word,
 * not a byte, at a time.
 */
static size_t
sfn_json_plain(const unsigned char *p, const unsigned char *last)
{
    uint64_t              w, q, b;
    const unsigned char  *s;

#define SFN_ONES   0x0101010101010101ULL
#define SFN_HIGHS  0x8080808080808080ULL

    for (s = p; last - p >= 8; p += 8) {
        memcpy(&w, p, 8);

        q = w ^ (SFN_ONES * '"');
        b = w ^ (SFN_ONES * '\\');

        /* a byte below 0x20 or from 0x80, a quote, a backslash */
        if (((w - SFN_ONES * 0x20) | w
             | ((q - SFN_ONES) & ~q) | ((b - SFN_ONES) & ~b)) & SFN_HIGHS)
        {
            break;
        }
    }

#undef SFN_ONES
#undef SFN_HIGHS

    return p - s;
}


/*
 * The string whose opening quote jp->p is at, checked and sized in one
 * pass and copied (escapes decoded) in another; cJSON_malloc'd.
 */
static char *
sfn_json_parse_string(sfn_json_parser_t *jp)
{
    size_t                n, size;
    uint32_t              cp;
    unsigned              escapes;
    unsigned char        *s, *q;
    const unsigned char  *p, *start, *last;

    start = jp->p + 1;
    last = jp->last;
    size = 0;
    escapes = 0;

    for (p = start; p < last && *p != '"'; /* void */ ) {

        n = sfn_json_plain(p, last);
        if (n) {
            p += n;
            size += n;
            continue;
        }

        if (*p == '\\') {
            n = sfn_json_parse_escape(p, last, &cp);
            if (n == 0) {
                return NULL;
            }

            p += n;
            size += cp == 0 ? 2 : (cp < 0x80 ? 1 : (cp < 0x800 ? 2
                                   : (cp < 0x10000 ? 3 : 4)));
            escapes = 1;
            continue;
        }

        if (*p < 0x20) {
            return NULL;
        }

        if (*p < 0x80) {
            p++;
            size++;
            continue;
        }

        if (*p == 0xc0 && last - p >= 2 && p[1] == 0x80) {
            n = 2;

        } else {
            n = sfn_utf8_len(p, last);
            if (n == 0) {
                return NULL;
            }
        }

        p += n;
        size += n;
    }

    if (p == last) {
        return NULL;
    }

    jp->p = p + 1;

    s = (unsigned char *) sfn_json_parse_alloc(jp, size + 1);
    if (s == NULL) {
        return NULL;
    }

    if (!escapes) {
        memcpy(s, start, size);
        s[size] = '\0';
        return (char *) s;
    }

    q = s;

    for (p = start; *p != '"'; /* void */ ) {
        if (*p == '\\') {
            p += sfn_json_parse_escape(p, last, &cp);
            q = sfn_json_parse_utf8(q, cp);

        } else {
            *q++ = *p++;
        }
    }

    *q = '\0';

    return (char *) s;
}


static int
sfn_json_parse_number(sfn_json_parser_t *jp, double *out)
{
    char                  buf[64], *copy, *t, *end;
    size_t                n;
    int64_t               iv;
    unsigned              digits, simple;
    struct lconv         *lc;
    const unsigned char  *p, *start, *last;

    p = jp->p;
    start = p;
    last = jp->last;
    simple = 1;
    iv = 0;

    if (*p == '-') {
        p++;
    }

    if (p == last || *p < '0' || *p > '9') {
        return -1;
    }

    /* no leading zero */
    if (*p == '0') {
        p++;

    } else {
        for (digits = 0; p < last && *p >= '0' && *p <= '9'; p++) {
            if (++digits > 15) {
                simple = 0;

            } else {
                iv = iv * 10 + (*p - '0');
            }
        }
    }

    if (p < last && *p == '.') {
        simple = 0;

        if (++p == last || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        simple = 0;
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == last || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    jp->p = p;

    if (simple) {
        /* at most 15 digits: exact as a double */
        *out = *start == '-' ? -(double) iv : (double) iv;

        if (*out == 0 && *start == '-') {
            *out = -0.0;
        }

        return 0;
    }

    n = p - start;
    copy = n < sizeof(buf) ? buf : malloc(n + 1);
    if (copy == NULL) {
        return -1;
    }

    memcpy(copy, start, n);
    copy[n] = '\0';

    /* strtod() reads the locale's decimal point */
    lc = localeconv();

    if (lc->decimal_point[0] != '.') {
        t = strchr(copy, '.');
        if (t) {
            *t = lc->decimal_point[0];
        }
    }

    *out = strtod(copy, &end);

    n = end == copy + n;

    if (copy != buf) {
        free(copy);
    }

    return n ? 0 : -1;
}


/* the members of an object or the elements of an array after its bracket */
static int
sfn_json_parse_items(sfn_json_parser_t *jp, cJSON *v, int object)
{
    char   *key;
    cJSON  *c, *tail;

    jp->p++;
    sfn_json_parse_space(jp);

    if (jp->p < jp->last && *jp->p == (object ? '}' : ']')) {
        jp->p++;
        return 0;
    }

    tail = NULL;

    for ( ;; ) {
        key = NULL;

        if (object) {
            if (jp->p == jp->last || *jp->p != '"') {
                return -1;
            }

            key = sfn_json_parse_string(jp);
            if (key == NULL) {
                return -1;
            }

            sfn_json_parse_space(jp);

            if (jp->p == jp->last || *jp->p != ':') {
                sfn_json_parse_free(jp, NULL, key);
                return -1;
            }

            jp->p++;
            sfn_json_parse_space(jp);
        }

        c = sfn_json_parse_value(jp);
        if (c == NULL) {
            sfn_json_parse_free(jp, NULL, key);
            return -1;
        }

        c->string = key;

        /* linked as cJSON links: the first child's prev is the last */
        if (tail) {
            tail->next = c;
            c->prev = tail;

        } else {
            v->child = c;
        }

        tail = c;
        v->child->prev = tail;

        sfn_json_parse_space(jp);

        if (jp->p == jp->last) {
            return -1;
        }

        if (*jp->p == ',') {
            jp->p++;
            sfn_json_parse_space(jp);
            continue;
        }

        if (*jp->p == (object ? '}' : ']')) {
            jp->p++;
            return 0;
        }

        return -1;
    }
}


static cJSON *
sfn_json_parse_value(sfn_json_parser_t *jp)
{
    int                   rc;
    char                 *s;
    cJSON                *v;
    double                d;
    size_t                left;
    const unsigned char  *p;

    p = jp->p;

    if (p == jp->last) {
        return NULL;
    }

    left = jp->last - p;

    switch (*p) {

    case '{':
    case '[':
        if (jp->depth >= CJSON_NESTING_LIMIT) {
            return NULL;
        }

        v = sfn_json_parse_node(jp, *p == '{' ? cJSON_Object : cJSON_Array);
        if (v == NULL) {
            return NULL;
        }

        jp->depth++;
        rc = sfn_json_parse_items(jp, v, *p == '{');
        jp->depth--;

        if (rc != 0) {
            sfn_json_parse_free(jp, v, NULL);
            return NULL;
        }

        return v;

    case '"':
        s = sfn_json_parse_string(jp);
        if (s == NULL) {
            return NULL;
        }

        v = sfn_json_parse_node(jp, cJSON_String);
        if (v == NULL) {
            sfn_json_parse_free(jp, NULL, s);
            return NULL;
        }

        v->valuestring = s;
        return v;

    case 't':
        if (left < 4 || memcmp(p, "true", 4) != 0) {
            return NULL;
        }
        jp->p += 4;
        return sfn_json_parse_node(jp, cJSON_True);

    case 'f':
        if (left < 5 || memcmp(p, "false", 5) != 0) {
            return NULL;
        }
        jp->p += 5;
        return sfn_json_parse_node(jp, cJSON_False);

    case 'n':
        if (left < 4 || memcmp(p, "null", 4) != 0) {
            return NULL;
        }
        jp->p += 4;
        return sfn_json_parse_node(jp, cJSON_NULL);

    default:
        if (sfn_json_parse_number(jp, &d) != 0) {
            return NULL;
        }

        v = sfn_json_parse_node(jp, cJSON_Number);
        if (v == NULL) {
            return NULL;
        }

        sfn_json_set_number(v, d);
        return v;
    }
}


static cJSON *
sfn_json_parse_doc(sfn_json_parser_t *jp, const char *text, size_t len)
{
    cJSON  *v;

    jp->p = (const unsigned char *) text;
    jp->last = jp->p + len;
    jp->depth = 0;

    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        jp->p += 3;
    }

    sfn_json_parse_space(jp);

    v = sfn_json_parse_value(jp);
    if (v == NULL) {
        return NULL;
    }

    sfn_json_parse_space(jp);

    if (jp->p != jp->last) {
        sfn_json_parse_free(jp, v, NULL);
        return NULL;
    }

    return v;
}


cJSON *
sfn_json_parse(const char *text, size_t len)
{
    sfn_json_parser_t  jp;

    memset(&jp, 0, sizeof(sfn_json_parser_t));

    return sfn_json_parse_doc(&jp, text, len);
}


/*
 * At least as many nodes as text can hold, and strings: every value but
 * the first follows a comma or an opening bracket outside any string.
 */
size_t
sfn_json_parse_nodes(const char *text, size_t len, size_t *strings)
{
    size_t                n, ns;
    unsigned              c;
    const unsigned char  *p, *last;

    /* 1: a value may follow, 2: a string starts */
    static const unsigned char  cls[256] = {
        [','] = 1, ['['] = 1, ['{'] = 1, ['"'] = 2
    };

    n = 1;
    ns = 0;
    p = (const unsigned char *) text;
    last = p + len;

    while (p < last) {
        c = cls[*p++];

        if (c == 0) {
            continue;
        }

        if (c == 1) {
            n++;
            continue;
        }

        ns++;

        /* what a string holds is no value */
        while (p < last && *p != '"') {
            p += *p == '\\' ? 2 : 1 + sfn_json_plain(p + 1, last);
        }

        p++;
    }

    *strings = ns;

    return n;
}


/*
 * Parses text into nodes (nnodes of them, sfn_json_parse_nodes()) and
 * string bytes (len + the strings it counted) the caller provides: no
 * allocation, nothing to free but the block; never cJSON_Delete() it.
 */
cJSON *
sfn_json_parse_block(const char *text, size_t len, cJSON *nodes,
    size_t nnodes, char *bytes, size_t nbytes)
{
    sfn_json_parser_t  jp;

    memset(&jp, 0, sizeof(sfn_json_parser_t));

    jp.block = 1;
    jp.node = nodes;
    jp.node_end = nodes + nnodes;
    jp.byte = bytes;
    jp.byte_end = bytes + nbytes;

    return sfn_json_parse_doc(&jp, text, len);
}


/*
 * Trees built in an arena (a payload's, sfn_payload_new()): nodes and
 * strings from the pool, linked as cJSON links them, never given to
 * cJSON_Delete(); cJSON_Duplicate() makes an owned copy.  NULL when out of
 * memory.
 */
cJSON *
sfn_json_pnode(sfn_pool_t *pool, int type)
{
    cJSON  *v;

    v = sfn_palloc(pool, sizeof(cJSON));
    if (v == NULL) {
        return NULL;
    }

    memset(v, 0, sizeof(cJSON));
    v->type = type;

    return v;
}


cJSON *
sfn_json_pnumber(sfn_pool_t *pool, double d)
{
    cJSON  *v;

    v = sfn_json_pnode(pool, cJSON_Number);
    if (v == NULL) {
        return NULL;
    }

    sfn_json_set_number(v, d);

    return v;
}


cJSON *
sfn_json_pstring(sfn_pool_t *pool, const char *s, size_t len)
{
    cJSON  *v;

    v = sfn_json_pnode(pool, cJSON_String);
    if (v == NULL) {
        return NULL;
    }

    v->valuestring = sfn_pstrndup(pool, s, len);

    return v->valuestring ? v : NULL;
}


/*
 * c, with its key (copied, len bytes) when parent is an object, as the
 * last child
 */
int
sfn_json_padd(sfn_pool_t *pool, cJSON *parent, const char *key, size_t len,
    cJSON *c)
{
    if (key) {
        c->string = sfn_pstrndup(pool, key, len);
        if (c->string == NULL) {
            return -1;
        }
    }

    if (parent->child == NULL) {
        parent->child = c;

    } else {
        parent->child->prev->next = c;
        c->prev = parent->child->prev;
    }

    parent->child->prev = c;

    return 0;
}


cJSON *
sfn_json_pdup(sfn_pool_t *pool, const cJSON *v)
{
    cJSON        *r, *c;
    const cJSON  *k;

    switch (v->type & 0xff) {
    case cJSON_Number:
        return sfn_json_pnumber(pool, v->valuedouble);

    case cJSON_String:
        return sfn_json_pstring(pool, v->valuestring,
                                strlen(v->valuestring));

    case cJSON_Array:
    case cJSON_Object:
        r = sfn_json_pnode(pool, v->type & 0xff);
        if (r == NULL) {
            return NULL;
        }

        for (k = v->child; k; k = k->next) {
            c = sfn_json_pdup(pool, k);
            if (c == NULL
                || sfn_json_padd(pool, r, (v->type & 0xff) == cJSON_Object
                                          ? k->string : NULL,
                                 k->string ? strlen(k->string) : 0, c) != 0)
            {
                return NULL;
            }
        }

        return r;

    default:
        return sfn_json_pnode(pool, v->type & 0xff);
    }
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


/* a member that is a string, or NULL */

const char *
sfn_json_str(const cJSON *o, const char *name)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
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
