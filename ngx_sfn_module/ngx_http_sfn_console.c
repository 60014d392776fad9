
/*
 * Copyright (C) ngx_sfn authors
 *
 * The console: "sfn_console" serves the web page installed with the
 * module (console/ in the tree) and its config.json, which names the
 * locations of the APIs the page talks to.  The files hold no data, so
 * they are served without a key; every figure the page shows comes from
 * sfn_aws_api and sfn_api, which check theirs.  Only known names are
 * served: a path of [A-Za-z0-9._-] segments, none starting with a dot,
 * with an extension of the table below.
 */


#include "ngx_http_sfn_module.h"


/* the installed assets; the build names the tree's console/ instead */
#ifndef NGX_HTTP_SFN_CONSOLE_ROOT
#define NGX_HTTP_SFN_CONSOLE_ROOT  "/usr/share/libnginx-mod-http-sfn/console"
#endif


struct ngx_http_sfn_console_s {
    ngx_str_t                    root;      /* no trailing slash */
    ngx_str_t                    config;    /* config.json */
};


typedef struct {
    ngx_str_t                    ext;
    ngx_str_t                    type;
} ngx_http_sfn_console_type_t;


static ngx_http_sfn_console_type_t  ngx_http_sfn_console_types[] = {
    { ngx_string("html"), ngx_string("text/html; charset=utf-8") },
    { ngx_string("js"), ngx_string("text/javascript; charset=utf-8") },
    { ngx_string("css"), ngx_string("text/css; charset=utf-8") },
    { ngx_string("svg"), ngx_string("image/svg+xml") },
    { ngx_string("png"), ngx_string("image/png") },
    { ngx_string("json"), ngx_string("application/json") },
    { ngx_string("txt"), ngx_string("text/plain; charset=utf-8") },
    { ngx_null_string, ngx_null_string }
};


/*
 * The page and what it may reach: its own files, the APIs and the origin
 * of the same server; hls.js feeds the video element from blob: URLs.
 */

static ngx_http_sfn_console_type_t  ngx_http_sfn_console_headers[] = {
    { ngx_string("Content-Security-Policy"),
      ngx_string("default-src 'self'; img-src 'self' data: blob:; "
                 "media-src 'self' blob:; worker-src 'self' blob:; "
                 "object-src 'none'; base-uri 'none'; "
                 "frame-ancestors 'none'") },
    { ngx_string("X-Content-Type-Options"), ngx_string("nosniff") },
    { ngx_string("Referrer-Policy"), ngx_string("same-origin") },
    { ngx_null_string, ngx_null_string }
};


static ngx_int_t ngx_http_sfn_console_handler(ngx_http_request_t *r);


/* sfn_console [root=DIR] [aws_api=URI] [api=URI] [origin=URI] */

char *
ngx_http_sfn_console(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_loc_conf_t *slcf = conf;

    u_char                    *p;
    ngx_str_t                 *value, *v, root, uri[3], name;
    ngx_uint_t                 i, k;
    ngx_file_info_t            fi;
    ngx_http_sfn_console_t    *con;
    ngx_http_core_loc_conf_t  *clcf;

    static ngx_str_t  names[] = {
        ngx_string("aws_api="), ngx_string("api="), ngx_string("origin=")
    };

    if (slcf->console) {
        return "is duplicate";
    }

    con = ngx_pcalloc(cf->pool, sizeof(ngx_http_sfn_console_t));
    if (con == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&root, NGX_HTTP_SFN_CONSOLE_ROOT);
    ngx_str_set(&uri[0], "/");
    ngx_str_set(&uri[1], "/executions/");
    ngx_str_set(&uri[2], "/vod/");

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        v = &value[i];

        if (v->len > 5 && ngx_strncmp(v->data, "root=", 5) == 0) {
            root.data = v->data + 5;
            root.len = v->len - 5;
            continue;
        }

        for (k = 0; k < 3; k++) {
            if (v->len > names[k].len
                && ngx_strncmp(v->data, names[k].data, names[k].len) == 0)
            {
                uri[k].data = v->data + names[k].len;
                uri[k].len = v->len - names[k].len;
                break;
            }
        }

        if (k == 3) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", v);
            return NGX_CONF_ERROR;
        }

        /* a path of this server, written into config.json as it is */

        if (uri[k].data[0] != '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" must start with \"/\"", v);
            return NGX_CONF_ERROR;
        }

        for (p = uri[k].data; p < uri[k].data + uri[k].len; p++) {
            if (*p <= ' ' || *p == '"' || *p == '\\' || *p == 0x7f) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid character in \"%V\"", v);
                return NGX_CONF_ERROR;
            }
        }
    }

    while (root.len > 1 && root.data[root.len - 1] == '/') {
        root.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &root, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    con->root = root;

    /* nginx -t tells a missing or misplaced console at once */

    name.len = root.len + sizeof("/index.html") - 1;
    name.data = ngx_pnalloc(cf->pool, name.len + 1);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "%V/index.html%Z", &root);

    if (ngx_file_info(name.data, &fi) == NGX_FILE_ERROR
        || !ngx_is_file(&fi))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "sfn_console: no console in \"%V\" "
                           "(\"%s\" is not a file)", &root, name.data);
        return NGX_CONF_ERROR;
    }

    con->config.len = sizeof("{\"awsApi\":\"\",\"api\":\"\",\"origin\":\"\"}")
                      - 1 + uri[0].len + uri[1].len + uri[2].len;
    con->config.data = ngx_pnalloc(cf->pool, con->config.len);
    if (con->config.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(con->config.data,
                "{\"awsApi\":\"%V\",\"api\":\"%V\",\"origin\":\"%V\"}",
                &uri[0], &uri[1], &uri[2]);

    slcf->console = con;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_sfn_console_handler;

    /* "/console" is redirected to "/console/", as proxy_pass does */

    if (clcf->name.len && clcf->name.data[clcf->name.len - 1] == '/') {
        clcf->auto_redirect = 1;
    }

    return NGX_CONF_OK;
}


/* segments of [A-Za-z0-9._-], none empty, none starting with a dot */

static ngx_int_t
ngx_http_sfn_console_path_valid(ngx_str_t *path)
{
    u_char  *p, *last, c;

    p = path->data;
    last = p + path->len;

    if (p == last) {
        return 0;
    }

    for (c = '/'; p < last; c = *p++) {

        if (c == '/' && (*p == '/' || *p == '.')) {
            return 0;
        }

        if (*p != '/' && *p != '.' && *p != '_' && *p != '-'
            && !(*p >= 'a' && *p <= 'z')
            && !(*p >= 'A' && *p <= 'Z')
            && !(*p >= '0' && *p <= '9'))
        {
            return 0;
        }
    }

    return last[-1] != '/';
}


static ngx_http_sfn_console_type_t *
ngx_http_sfn_console_type(ngx_str_t *path)
{
    u_char                       *p;
    ngx_str_t                     ext;
    ngx_http_sfn_console_type_t  *t;

    for (p = path->data + path->len; p > path->data && p[-1] != '.'; p--) {
        if (p[-1] == '/') {
            return NULL;
        }
    }

    if (p == path->data) {
        return NULL;
    }

    ext.data = p;
    ext.len = path->data + path->len - p;

    for (t = ngx_http_sfn_console_types; t->ext.len; t++) {
        if (t->ext.len == ext.len
            && ngx_strncmp(t->ext.data, ext.data, ext.len) == 0)
        {
            return t;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_sfn_console_headers_add(ngx_http_request_t *r, const char *cache)
{
    ngx_table_elt_t              *h;
    ngx_http_sfn_console_type_t  *hd;

    for (hd = ngx_http_sfn_console_headers; hd->ext.len; hd++) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        h->key = hd->ext;
        h->value = hd->type;
    }

    return ngx_http_sfn_header(r, "Cache-Control", cache);
}


static ngx_int_t
ngx_http_sfn_console_handler(ngx_http_request_t *r)
{
    u_char                       *last;
    ngx_int_t                     rc;
    ngx_str_t                     tail, path, esc;
    ngx_buf_t                    *b;
    ngx_chain_t                   out;
    ngx_open_file_info_t          of;
    ngx_http_sfn_console_t       *con;
    ngx_http_sfn_loc_conf_t      *slcf;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_sfn_console_type_t  *t;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_sfn_module);
    con = slcf->console;

    if (ngx_http_sfn_location_tail(r, &tail) != NGX_OK) {
        return NGX_HTTP_NOT_FOUND;
    }

    if (tail.len == 0) {
        ngx_str_set(&tail, "index.html");
    }

    if (tail.len == sizeof("config.json") - 1
        && ngx_strncmp(tail.data, "config.json", tail.len) == 0)
    {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL
            || ngx_http_sfn_console_headers_add(r, "no-store") != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = con->config.data;
        b->last = con->config.data + con->config.len;
        b->memory = 1;

        return ngx_http_sfn_send(r, NGX_HTTP_OK, "application/json", b);
    }

    t = ngx_http_sfn_console_path_valid(&tail) ? ngx_http_sfn_console_type(&tail)
                                          : NULL;
    if (t == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "sfn console: no file \"%V\"",
                      ngx_http_sfn_log_escape(r->pool, &tail, &esc));
        return NGX_HTTP_NOT_FOUND;
    }

    path.len = con->root.len + 1 + tail.len;
    path.data = ngx_pnalloc(r->pool, path.len + 1);
    if (path.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(path.data, "%V/%V", &con->root, &tail);
    *last = '\0';

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ngx_memzero(&of, sizeof(ngx_open_file_info_t));

    of.read_ahead = clcf->read_ahead;
    of.directio = clcf->directio;
    of.valid = clcf->open_file_cache_valid;
    of.min_uses = clcf->open_file_cache_min_uses;
    of.errors = clcf->open_file_cache_errors;
    of.events = clcf->open_file_cache_events;

    if (ngx_open_cached_file(clcf->open_file_cache, &path, &of, r->pool)
        != NGX_OK)
    {
        if (of.err == NGX_ENOENT || of.err == NGX_ENOTDIR
            || of.err == NGX_ENAMETOOLONG)
        {
            return NGX_HTTP_NOT_FOUND;
        }

        ngx_log_error(NGX_LOG_CRIT, r->connection->log, of.err,
                      "%s \"%s\" failed", of.failed, path.data);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!of.is_file) {
        return NGX_HTTP_NOT_FOUND;
    }

    r->root_tested = !r->error_page;
    r->allow_ranges = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = of.size;
    r->headers_out.last_modified_time = of.mtime;

    /* revalidated at each load: an upgrade of the module shows at once */

    /* the type's length stops before its parameters, as nginx keeps it */

    last = ngx_strlchr(t->type.data, t->type.data + t->type.len, ';');

    r->headers_out.content_type = t->type;
    r->headers_out.content_type_len = last ? (size_t) (last - t->type.data)
                                           : t->type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_sfn_console_headers_add(r, "no-cache") != NGX_OK
        || ngx_http_set_etag(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->file_pos = 0;
    b->file_last = of.size;

    b->in_file = b->file_last ? 1 : 0;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    b->sync = (b->last_buf || b->in_file) ? 0 : 1;

    b->file->fd = of.fd;
    b->file->name = path;
    b->file->log = r->connection->log;
    b->file->directio = of.is_directio;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
