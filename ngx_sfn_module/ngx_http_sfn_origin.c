
/*
 * Copyright (C) ngx_sfn authors
 *
 * The publish-gated origin.  "sfn_origin BUCKET" makes the location an
 * alias of the bucket and adds a precontent check: a path
 * <kind>/<jobId>/... is served only once sfn:origin:publish has written
 * <bucket>/.sfn-published/<jobId>.json (one atomic rename), so a player
 * never sees a half-published ladder; or, before that, while the
 * execution named by <jobId>.preview runs the job (a progressive publish:
 * each file is renamed into place whole).  The file itself goes out
 * through nginx's static handler: sendfile, byte ranges, HEAD, ETag,
 * Last-Modified.
 */


#include "ngx_http_sfn_module.h"
#include <sfn_task.h>


typedef struct {
    ngx_str_t                    ext;
    ngx_str_t                    type;
    ngx_uint_t                   immutable;
} ngx_http_sfn_origin_type_t;


static ngx_http_sfn_origin_type_t  ngx_http_sfn_origin_types[] = {
    { ngx_string("m3u8"), ngx_string("application/vnd.apple.mpegurl"), 0 },
    { ngx_string("ts"), ngx_string("video/mp2t"), 1 },
    { ngx_string("m4s"), ngx_string("video/iso.segment"), 1 },
    { ngx_string("mp4"), ngx_string("video/mp4"), 1 },
    { ngx_string("m4a"), ngx_string("audio/mp4"), 1 },
    { ngx_string("aac"), ngx_string("audio/aac"), 1 },
    { ngx_string("jpg"), ngx_string("image/jpeg"), 1 },
    { ngx_string("jpeg"), ngx_string("image/jpeg"), 1 },
    { ngx_string("png"), ngx_string("image/png"), 1 },
    { ngx_string("webp"), ngx_string("image/webp"), 1 },
    { ngx_string("vtt"), ngx_string("text/vtt"), 1 },
    { ngx_string("mpd"), ngx_string("application/dash+xml"), 0 },
    { ngx_null_string, ngx_null_string, 0 }
};


/*
 * Opens a file through nginx's open_file_cache when the location has one:
 * a marker is then as fresh as any file nginx serves from there.  NGX_OK,
 * NGX_DECLINED when there is no such file.
 */

static ngx_int_t
ngx_http_sfn_origin_open(ngx_http_request_t *r, ngx_str_t *path,
    ngx_open_file_info_t *of)
{
    ngx_uint_t                 test_only;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    test_only = of->test_only;
    ngx_memzero(of, sizeof(ngx_open_file_info_t));

    of->directio = NGX_MAX_OFF_T_VALUE;
    of->valid = clcf->open_file_cache_valid;
    of->min_uses = clcf->open_file_cache_min_uses;
    of->errors = clcf->open_file_cache_errors;
    of->events = clcf->open_file_cache_events;
    of->test_only = test_only;

    if (ngx_open_cached_file(clcf->open_file_cache, path, of, r->pool)
        != NGX_OK
        || !of->is_file)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* <bucket>/.sfn-published/<job><ext> */

static ngx_int_t
ngx_http_sfn_origin_marker(ngx_http_request_t *r, ngx_http_sfn_bucket_t *b,
    u_char *job, size_t len, const char *ext, ngx_open_file_info_t *of)
{
    u_char     *p;
    ngx_str_t   path;

    path.len = b->path.len + sizeof("/.sfn-published/") - 1 + len
               + ngx_strlen(ext);
    path.data = ngx_pnalloc(r->pool, path.len + 1);
    if (path.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(path.data, "%V/.sfn-published/", &b->path);
    p = ngx_cpymem(p, job, len);
    p = ngx_cpymem(p, ext, ngx_strlen(ext));
    *p = '\0';

    return ngx_http_sfn_origin_open(r, &path, of);
}


/*
 * A preview: the marker names the execution whose transcode shows the job
 * before QC, and it counts only while that execution runs here (a failed,
 * stopped or unknown one never shows anything).  The marker is a few
 * bytes, read from the cached descriptor.
 */

static ngx_int_t
ngx_http_sfn_origin_preview(ngx_http_request_t *r, ngx_http_sfn_bucket_t *b,
    u_char *job, size_t len)
{
    u_char                     buf[512];
    ssize_t                    n;
    ngx_str_t                  arn;
    ngx_file_t                 file;
    sfn_status_e               status;
    ngx_open_file_info_t       of;
    ngx_http_sfn_main_conf_t  *smcf;

    of.test_only = 0;

    if (ngx_http_sfn_origin_marker(r, b, job, len, ".preview", &of)
        != NGX_OK
        || of.size <= 0 || of.size >= (off_t) sizeof(buf))
    {
        return 0;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = of.fd;
    file.log = r->connection->log;

    n = ngx_read_file(&file, buf, sizeof(buf), 0);

    if (n <= 0) {
        return 0;
    }

    while (n > 0 && (buf[n - 1] == LF || buf[n - 1] == CR)) {
        n--;
    }

    arn.data = buf;
    arn.len = n;

    if (n < 4 || ngx_strncmp(buf, "arn:", 4) != 0) {
        return 0;
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_sfn_module);

    if (ngx_http_sfn_shm_status(smcf, &arn, &status) != NGX_OK
        || status != SFN_RUNNING)
    {
        return 0;
    }

    return 1;
}


/* 0: not visible, 1: published, 2: a preview */

static ngx_int_t
ngx_http_sfn_origin_visible(ngx_http_request_t *r,
    ngx_http_sfn_bucket_t *b, ngx_str_t *tail)
{
    u_char                *p, *last, *job;
    size_t                 len;
    ngx_int_t              rc;
    ngx_open_file_info_t   of;

    /* the job is the second segment: <kind>/<jobId>/<file> */

    last = tail->data + tail->len;

    p = ngx_strlchr(tail->data, last, '/');
    if (p == NULL) {
        return 0;
    }

    job = p + 1;

    p = ngx_strlchr(job, last, '/');
    if (p == NULL || p == job) {
        return 0;
    }

    len = p - job;

    of.test_only = 1;

    rc = ngx_http_sfn_origin_marker(r, b, job, len, ".json", &of);

    if (rc != NGX_DECLINED) {
        return rc == NGX_OK ? 1 : NGX_ERROR;
    }

    if (ngx_http_sfn_origin_preview(r, b, job, len)) {
        return 2;
    }

    /* publish writes the manifest before it removes the preview marker */

    of.test_only = 1;

    rc = ngx_http_sfn_origin_marker(r, b, job, len, ".json", &of);

    return rc == NGX_OK ? 1 : rc == NGX_DECLINED ? 0 : NGX_ERROR;
}


ngx_int_t
ngx_http_sfn_origin_handler(ngx_http_request_t *r)
{
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_str_t                    tail, ext, esc, path;
    ngx_open_file_info_t         of;
    ngx_http_sfn_loc_conf_t     *slcf;
    ngx_http_sfn_origin_type_t  *t;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_sfn_module);

    if (slcf->origin == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_sfn_header(r, "Access-Control-Allow-Origin", "*")
        != NGX_OK
        || ngx_http_sfn_header(r, "Access-Control-Expose-Headers",
                                      "Content-Length, Content-Range, ETag")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        if (ngx_http_sfn_header(r, "Access-Control-Allow-Methods",
                                       "GET, HEAD, OPTIONS") != NGX_OK
            || ngx_http_sfn_header(r, "Access-Control-Allow-Headers",
                                          "Range, If-None-Match, "
                                          "If-Modified-Since") != NGX_OK
            || ngx_http_sfn_header(r, "Access-Control-Max-Age",
                                          "86400") != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_NO_CONTENT;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_http_sfn_location_tail(r, &tail) != NGX_OK
        || !sfn_key_valid((char *) tail.data, tail.len))
    {
        return NGX_HTTP_NOT_FOUND;
    }

    rc = ngx_http_sfn_origin_visible(r, slcf->origin, &tail);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "sfn origin: \"%V\" is not published",
                      ngx_http_sfn_log_escape(r->pool, &tail, &esc));
        return NGX_HTTP_NOT_FOUND;
    }

    /* players poll a preview for what is not written yet: no error */

    if (rc == 2) {
        path.len = slcf->origin->path.len + 1 + tail.len;
        path.data = ngx_pnalloc(r->pool, path.len + 1);
        if (path.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(path.data, "%V/%V", &slcf->origin->path, &tail);
        *p = '\0';

        of.test_only = 1;

        if (ngx_http_sfn_origin_open(r, &path, &of) != NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "sfn origin: \"%V\" is not written yet",
                          ngx_http_sfn_log_escape(r->pool, &tail, &esc));
            return NGX_HTTP_NOT_FOUND;
        }
    }

    /*
     * one range per request, as S3 serves objects: a request for several
     * gets the whole file, never a multipart reply that a few hundred
     * one-byte ranges make many times the file's size
     */

    r->single_range = 1;

    /* types and cache policy by extension: segments never change */

    for (p = tail.data + tail.len; p > tail.data && p[-1] != '.'; p--) {
        /* void */
    }

    ext.data = p;
    ext.len = tail.data + tail.len - p;

    for (t = ngx_http_sfn_origin_types; t->ext.len; t++) {
        if (t->ext.len == ext.len
            && ngx_strncasecmp(t->ext.data, ext.data, ext.len) == 0)
        {
            r->headers_out.content_type = t->type;
            r->headers_out.content_type_len = t->type.len;

            /* a preview may yet be withdrawn: caches ask every time */

            if (ngx_http_sfn_header(r, "Cache-Control",
                    rc == 2 ? "no-cache"
                    : t->immutable ? "public, max-age=31536000, immutable"
                    : "public, max-age=60")
                != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            break;
        }
    }

    return NGX_DECLINED;
}
