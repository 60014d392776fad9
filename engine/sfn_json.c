
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

#include "sfn_core.h"


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
