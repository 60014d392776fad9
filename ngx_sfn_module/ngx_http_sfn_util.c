
/*
 * Copyright (C) ngx_sfn authors
 *
 * Small helpers every part of the glue shares, one per idiom: random
 * bytes and identifiers, clocks, strings, log escaping, and the request
 * and reply plumbing (a header, the body, a buffer sent as the reply).
 */


#include "ngx_http_sfn_module.h"

#include <sys/random.h>


/*
 * The kernel's random bytes, drawn 512 at a time: an unnamed synchronous
 * start needs 16, and a system call for each cost a tenth of its rate.
 * The buffer is per worker (emptied as a worker starts: what a parent
 * drew must not be shared by its children) and never handed out twice.
 */

static u_char  ngx_http_sfn_random_pool[512];
static size_t  ngx_http_sfn_random_left;


void
ngx_http_sfn_random(void *buf, size_t len)
{
    u_char   *p, *pool;
    size_t    n, left;
    ssize_t   got;

    pool = ngx_http_sfn_random_pool;
    left = ngx_http_sfn_random_left;

    for (p = buf; len; p += n, len -= n) {

        if (left == 0) {
            got = getrandom(pool, sizeof(ngx_http_sfn_random_pool), 0);

            if (got <= 0) {
                ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                              "getrandom() failed");
                ngx_memzero(p, len);
                break;
            }

            left = got;
        }

        n = ngx_min(len, left);

        /* taken from the end, and wiped */

        left -= n;
        ngx_memcpy(p, pool + left, n);
        ngx_explicit_memzero(pool + left, n);
    }

    ngx_http_sfn_random_left = left;
}


/* a worker forgets what its parent drew before the fork */

void
ngx_http_sfn_random_reset(void)
{
    ngx_explicit_memzero(ngx_http_sfn_random_pool,
                         sizeof(ngx_http_sfn_random_pool));
    ngx_http_sfn_random_left = 0;
}


size_t
ngx_http_sfn_uuid(u_char *buf)
{
    u_char  b[16];

    ngx_http_sfn_random(b, sizeof(b));

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    return ngx_sprintf(buf, "%*xs-%*xs-%*xs-%*xs-%*xs",
                       (size_t) 4, b, (size_t) 2, b + 4, (size_t) 2, b + 6,
                       (size_t) 2, b + 8, (size_t) 6, b + 10)
           - buf;
}


size_t
ngx_http_sfn_iso8601(u_char *buf, int64_t ms)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                       (int) (ms % 1000))
           - buf;
}


int64_t
ngx_http_sfn_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


char *
ngx_http_sfn_strdup(ngx_pool_t *pool, const char *s)
{
    size_t   len;
    u_char  *p;

    len = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);

    return (char *) p;
}


ngx_int_t
ngx_http_sfn_pstr(ngx_pool_t *pool, ngx_str_t *src, ngx_str_t *dst)
{
    dst->len = src->len;

    if (src->data == NULL) {
        dst->data = NULL;
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(pool, src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(dst->data, src->data, src->len) = '\0';

    return NGX_OK;
}


char *
ngx_http_sfn_cstr(ngx_str_t *s)
{
    /* message strings are NUL-terminated copies; NULL stays NULL */
    return s->data ? (char *) s->data : NULL;
}


ngx_int_t
ngx_http_sfn_location_tail(ngx_http_request_t *r, ngx_str_t *tail)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->uri.len < clcf->name.len
        || ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) != 0)
    {
        return NGX_ERROR;
    }

    tail->data = r->uri.data + clcf->name.len;
    tail->len = r->uri.len - clcf->name.len;

    return NGX_OK;
}


/* what a log line must not carry raw: control characters, DEL, '"', '\\' */

#define ngx_http_sfn_log_unsafe(c)                                            \
    ((c) < 0x20 || (c) == 0x7f || (c) == '"' || (c) == '\\')


/*
 * Request data for a log line: the unsafe bytes as \xHH, so that a key with
 * "%0a" in it cannot break or forge lines of error.log.  Returns dst, which
 * is src itself when nothing needs escaping.
 */

/* a response header; name and value are static strings, not copied */

ngx_int_t
ngx_http_sfn_header(ngx_http_request_t *r, const char *name,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


/*
 * "Retry-After: 1" on a 503 of backpressure: the worker's queue for
 * PostgreSQL drains within a second or so unless the database is down.
 */

ngx_int_t
ngx_http_sfn_retry_after(ngx_http_request_t *r)
{
    return ngx_http_sfn_header(r, "Retry-After", "1");
}


ngx_str_t *
ngx_http_sfn_log_escape(ngx_pool_t *pool, ngx_str_t *src, ngx_str_t *dst)
{
    u_char         *p, *s, *last;
    ngx_uint_t      n;
    static u_char   hex[] = "0123456789abcdef";

    n = 0;
    last = src->data + src->len;

    for (s = src->data; s < last; s++) {
        n += ngx_http_sfn_log_unsafe(*s);
    }

    if (n == 0) {
        *dst = *src;
        return dst;
    }

    p = ngx_pnalloc(pool, src->len + 3 * n);
    if (p == NULL) {
        ngx_str_set(dst, "(not logged: no memory)");
        return dst;
    }

    dst->data = p;

    for (s = src->data; s < last; s++) {

        if (ngx_http_sfn_log_unsafe(*s)) {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[*s >> 4];
            *p++ = hex[*s & 0xf];
            continue;
        }

        *p++ = *s;
    }

    dst->len = p - dst->data;

    return dst;
}


/* requests and replies */

ngx_table_elt_t *
ngx_http_sfn_header_in(ngx_http_request_t *r, const char *name, size_t len,
    ngx_table_elt_t *after)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    /* the first header so named, or the next one after "after" */

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (after) {
            if (&h[i] == after) {
                after = NULL;
            }

            continue;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/* the request body as one NUL-terminated string, read from file if needed */

ngx_int_t
ngx_http_sfn_body_text(ngx_http_request_t *r, size_t max, ngx_str_t *text)
{
    u_char       *p;
    size_t        len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = 0;

    if (r->request_body == NULL) {
        goto empty;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > max) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n == NGX_ERROR) {
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *p = '\0';
    text->len = p - text->data;

    return NGX_OK;

empty:

    ngx_str_set(text, "");

    return NGX_OK;
}


/* a string member of an object, or NULL */

const char *
ngx_http_sfn_json_str(const cJSON *obj, const char *name)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}


cJSON *
ngx_http_sfn_json_add_str(cJSON *obj, const char *name, ngx_str_t *value)
{
    char   *s;
    cJSON  *item;

    s = ngx_alloc(value->len + 1, ngx_cycle->log);
    if (s == NULL) {
        return NULL;
    }

    *ngx_cpymem(s, value->data, value->len) = '\0';

    item = cJSON_AddStringToObject(obj, name, s);

    ngx_free(s);

    return item;
}


/* b is the whole reply body; type may carry parameters after a ';' */

ngx_int_t
ngx_http_sfn_send(ngx_http_request_t *r, ngx_uint_t status, const char *type,
    ngx_buf_t *b)
{
    u_char       *p;
    ngx_int_t     rc;
    ngx_chain_t   out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;

    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);

    p = (u_char *) ngx_strchr(type, ';');
    r->headers_out.content_type_len = p ? (size_t) (p - (u_char *) type)
                                        : r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
