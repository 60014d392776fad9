
/*
 * Copyright (C) ngx_sfn authors
 *
 * A map run's items from the buckets.  ItemReader reads its
 * objects as they are consumed, a bounded buffer at a time (a JSON array,
 * JSON Lines, CSV with its header or given headers; GZIP and ZSTD told by
 * their first bytes), one after another when a manifest (an S3 inventory,
 * an Athena UNLOAD) or a listing (LOAD_AND_FLATTEN) names several, or
 * lists the objects under a prefix, as S3 lists them (by key); an item is
 * parsed when its child starts and dropped when it has.  Any object that
 * is not what it should be is States.ItemReaderFailed, with the line that
 * is not.  The results are ngx_http_sfn_maprun_write.c's.
 */


#include "ngx_http_sfn_maprun.h"

#include <zlib.h>
#include <zstd.h>


#define NGX_HTTP_SFN_MR_LINE       SFN_MAX_PAYLOAD   /* an item's limit */
#define NGX_HTTP_SFN_MR_OBJECT     (10ULL * 1000 * 1000 * 1000)  /* 10 GB */
#define NGX_HTTP_SFN_MR_MANIFEST   (8 * 1024 * 1024)
#define NGX_HTTP_SFN_MR_FILLS      64       /* 4 MiB read for an item */
#define NGX_HTTP_SFN_MR_POINTER    (16 * 1000 * 1000)  /* ItemsPointer's */
#define NGX_HTTP_SFN_MR_OUTSIDE                                             \
    "The manifest names a key that is not valid in its bucket"
#define NGX_HTTP_SFN_MR_GZIP       1
#define NGX_HTTP_SFN_MR_ZSTD       2


/* "<bucket path>/<key>", the key checked as every task checks one */

static ngx_int_t
ngx_http_sfn_mr_path(ngx_http_sfn_maprun_t *mr, const char *bucket,
    const char *key, ngx_str_t *bpath, ngx_str_t *path)
{
    size_t                  len;
    ngx_str_t               name;
    ngx_http_sfn_bucket_t  *b;

    name.data = (u_char *) bucket;
    name.len = ngx_strlen(bucket);

    b = ngx_http_sfn_bucket_find(mr->smcf, &name);
    if (b == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The bucket \"%s\" does not exist", bucket);
        return NGX_ERROR;
    }

    *bpath = b->path;

    if (key == NULL) {
        return NGX_OK;
    }

    len = ngx_strlen(key);

    if (!sfn_key_valid(key, len)) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The key is not valid");
        return NGX_ERROR;
    }

    path->len = b->path.len + 1 + len;
    path->data = ngx_pnalloc(mr->pool, path->len + 1);
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(path->data, "%V/%s%Z", &b->path, key);

    return NGX_OK;
}


/* a listing: every object under the prefix, by key */

typedef struct {
    ngx_http_sfn_maprun_t       *mr;
    ngx_str_t                    root;      /* the bucket's path */
    ngx_str_t                    prefix;
} ngx_http_sfn_mr_walk_t;


static ngx_int_t
ngx_http_sfn_mr_walk_file(ngx_tree_ctx_t *ctx, ngx_str_t *path)
{
    ngx_http_sfn_mr_walk_t *w = ctx->data;

    ngx_str_t   key, *k;

    key.data = path->data + w->root.len + 1;
    key.len = path->len - w->root.len - 1;

    if (key.len < w->prefix.len
        || ngx_strncmp(key.data, w->prefix.data, w->prefix.len) != 0
        || !sfn_key_valid((char *) key.data, key.len))
    {
        /* our own files (".sfn-*", uploads in flight) are no objects */
        return NGX_OK;
    }

    k = ngx_array_push(w->mr->keys);
    if (k == NULL) {
        return NGX_ABORT;
    }

    k->data = ngx_pnalloc(w->mr->pool, key.len);
    if (k->data == NULL) {
        return NGX_ABORT;
    }

    ngx_memcpy(k->data, key.data, key.len);
    k->len = key.len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_mr_walk_dir(ngx_tree_ctx_t *ctx, ngx_str_t *path)
{
    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_mr_walk_noop(ngx_tree_ctx_t *ctx, ngx_str_t *path)
{
    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_sfn_mr_key_cmp(const void *a, const void *b)
{
    const ngx_str_t  *x = a, *y = b;

    ngx_int_t  rc;

    rc = ngx_strncmp(x->data, y->data, ngx_min(x->len, y->len));

    if (rc == 0) {
        return (x->len > y->len) - (x->len < y->len);
    }

    return rc;
}


static ngx_int_t
ngx_http_sfn_mr_list(ngx_http_sfn_maprun_t *mr, const char *prefix)
{
    u_char                  *slash;
    ngx_str_t                dir;
    ngx_tree_ctx_t           tree;
    ngx_file_info_t          fi;
    ngx_http_sfn_mr_walk_t   w;

    mr->keys = ngx_array_create(mr->pool, 64, sizeof(ngx_str_t));
    if (mr->keys == NULL) {
        return NGX_ERROR;
    }

    w.mr = mr;
    w.root = mr->bucket_path;
    w.prefix.data = (u_char *) (prefix ? prefix : "");
    w.prefix.len = ngx_strlen(w.prefix.data);

    if (w.prefix.len && (w.prefix.data[0] == '/'
                         || ngx_strstr(w.prefix.data, "..") != NULL))
    {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The prefix is not valid");
        return NGX_ERROR;
    }

    /* the deepest directory that holds every key of the prefix */

    slash = NULL;

    for (u_char *p = w.prefix.data; p < w.prefix.data + w.prefix.len; p++) {
        if (*p == '/') {
            slash = p;
        }
    }

    dir.len = w.root.len + (slash ? 1 + (size_t) (slash - w.prefix.data) : 0);
    dir.data = ngx_pnalloc(mr->pool, dir.len + 1);
    if (dir.data == NULL) {
        return NGX_ERROR;
    }

    if (slash) {
        ngx_sprintf(dir.data, "%V/%*s%Z", &w.root,
                    (size_t) (slash - w.prefix.data), w.prefix.data);
    } else {
        ngx_sprintf(dir.data, "%V%Z", &w.root);
    }

    if (ngx_file_info(dir.data, &fi) == NGX_FILE_ERROR
        || !ngx_is_dir(&fi))
    {
        /* nothing under that prefix: an empty listing, as S3's */
        return NGX_OK;
    }

    ngx_memzero(&tree, sizeof(ngx_tree_ctx_t));
    tree.init_handler = NULL;
    tree.file_handler = ngx_http_sfn_mr_walk_file;
    tree.pre_tree_handler = ngx_http_sfn_mr_walk_dir;
    tree.post_tree_handler = ngx_http_sfn_mr_walk_noop;
    tree.spec_handler = ngx_http_sfn_mr_walk_noop;
    tree.data = &w;
    tree.alloc = 0;
    tree.log = ngx_cycle->log;

    if (ngx_walk_tree(&tree, &dir) == NGX_ABORT) {
        /* a directory that is not there lists nothing, as S3 */
        if (ngx_errno != NGX_ENOENT && ngx_errno != NGX_ENOTDIR) {
            ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                     "The objects could not be listed");
            return NGX_ERROR;
        }
    }

    ngx_qsort(mr->keys->elts, mr->keys->nelts, sizeof(ngx_str_t),
              ngx_http_sfn_mr_key_cmp);

    return NGX_OK;
}


static cJSON *
ngx_http_sfn_mr_list_item(ngx_http_sfn_maprun_t *mr, ngx_str_t *key)
{
    u_char           *path, date[64], etag[64];
    cJSON            *o;
    size_t            n;
    ngx_file_info_t   fi;

    path = ngx_pnalloc(mr->scratch, mr->bucket_path.len + key->len + 2);
    if (path == NULL) {
        return NULL;
    }

    ngx_sprintf(path, "%V/%V%Z", &mr->bucket_path, key);

    if (ngx_file_info(path, &fi) == NGX_FILE_ERROR) {
        /* deleted since the listing: not listed */
        return cJSON_CreateNull();
    }

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    n = ngx_http_sfn_iso8601(date, (int64_t) ngx_file_mtime(&fi) * 1000);
    date[n] = '\0';
    ngx_sprintf(etag, "\"%xT-%xO\"%Z", ngx_file_mtime(&fi),
                ngx_file_size(&fi));

    cJSON_AddStringToObject(o, "Etag", (char *) etag);
    ngx_http_sfn_json_add_str(o, "Key", key);
    cJSON_AddStringToObject(o, "LastModified", (char *) date);
    cJSON_AddNumberToObject(o, "Size", (double) ngx_file_size(&fi));
    cJSON_AddStringToObject(o, "StorageClass", "STANDARD");

    return o;
}


/* ReaderConfig's CSV fields: the delimiter and the header */

static ngx_int_t
ngx_http_sfn_mr_csv_config(ngx_http_sfn_maprun_t *mr, const cJSON *rc,
    const cJSON *schema)
{
    ngx_uint_t    i;
    const char   *d;
    const cJSON  *h;

    static const struct {
        const char  *name;
        u_char       c;
    }  delimiters[] = {
        { "COMMA", ',' }, { "PIPE", '|' }, { "SEMICOLON", ';' },
        { "SPACE", ' ' }, { "TAB", '\t' }, { NULL, 0 }
    };

    mr->delimiter = ',';

    d = ngx_http_sfn_json_str(rc, "CSVDelimiter");

    for (i = 0; d && delimiters[i].name; i++) {
        if (ngx_strcmp(d, delimiters[i].name) == 0) {
            mr->delimiter = delimiters[i].c;
        }
    }

    /* GIVEN: the names given; FIRST_ROW: each file's first record */

    d = ngx_http_sfn_json_str(rc, "CSVHeaderLocation");

    if (d && ngx_strcmp(d, "GIVEN") == 0) {
        h = cJSON_GetObjectItemCaseSensitive(rc, "CSVHeaders");

    } else if (d == NULL && schema) {
        h = schema;

    } else {
        mr->header_row = 1;
        return NGX_OK;
    }

    if (!cJSON_IsArray(h) || h->child == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "CSVHeaders must be a list of names with "
                                 "CSVHeaderLocation GIVEN");
        return NGX_ERROR;
    }

    mr->headers = cJSON_Duplicate(h, 1);
    if (mr->headers == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.Runtime", "out of memory");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a key to read; what is not a key of the bucket fails the map run */

static ngx_int_t
ngx_http_sfn_mr_key_add(ngx_http_sfn_maprun_t *mr, u_char *key, size_t len,
    const char *what)
{
    ngx_str_t  *k;

    if (!sfn_key_valid((char *) key, len)) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed", "%s",
                                 what);
        return NGX_ERROR;
    }

    k = ngx_array_push(mr->keys);
    if (k == NULL) {
        return NGX_ERROR;
    }

    k->data = ngx_pnalloc(mr->pool, len);
    if (k->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(k->data, key, len);
    k->len = len;

    return NGX_OK;
}


/*
 * A manifest is read whole, within NGX_HTTP_SFN_MR_MANIFEST bytes, and
 * kept as the keys it lists: the data files are read one after another
 */

static u_char *
ngx_http_sfn_mr_slurp(ngx_http_sfn_maprun_t *mr, const char *key,
    size_t *len)
{
    u_char           *p;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         path, bpath;
    ngx_file_info_t   fi;

    ngx_str_null(&path);

    if (ngx_http_sfn_mr_path(mr, (char *) mr->bucket.data, key, &bpath,
                             &path)
        != NGX_OK)
    {
        return NULL;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The manifest \"%s\" in \"%V\" could not "
                                 "be read: %s", key, &mr->bucket,
                                 ngx_errno == NGX_ENOENT
                                 ? "it does not exist" : "an I/O error");
        return NULL;
    }

    p = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR || !ngx_is_file(&fi)) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The manifest \"%s\" is not an object",
                                 key);
        goto done;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_SFN_MR_MANIFEST) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The manifest \"%s\" is larger than %d "
                                 "bytes", key, NGX_HTTP_SFN_MR_MANIFEST);
        goto done;
    }

    *len = (size_t) ngx_file_size(&fi);

    p = ngx_pnalloc(mr->scratch, *len + 1);
    if (p == NULL) {
        goto done;
    }

    n = *len ? ngx_read_fd(fd, p, *len) : 0;

    if (n != (ssize_t) *len) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The manifest \"%s\" could not be read",
                                 key);
        p = NULL;
    }

done:

    (void) ngx_close_file(fd);

    return p;
}


/*
 * An S3 inventory's manifest.json: its CSV data files, in this bucket
 * (a manifest cannot send the reader to another one), their columns
 * named by fileSchema
 */

static ngx_int_t
ngx_http_sfn_mr_inventory(ngx_http_sfn_maprun_t *mr, const char *key,
    const cJSON *rc)
{
    u_char       *text, *s, *e, *last;
    cJSON        *m, *schema, *name;
    size_t        len;
    ngx_int_t     rc2;
    const char   *v;
    const cJSON  *files, *f, *k;

    text = ngx_http_sfn_mr_slurp(mr, key, &len);
    if (text == NULL) {
        return NGX_ERROR;
    }

    m = sfn_json_parse((char *) text, len);
    ngx_reset_pool(mr->scratch);

    if (!cJSON_IsObject(m)) {
        cJSON_Delete(m);
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The manifest \"%s\" is not a JSON object",
                                 key);
        return NGX_ERROR;
    }

    schema = NULL;
    rc2 = NGX_ERROR;

    v = ngx_http_sfn_json_str(m, "fileFormat");
    if (v == NULL || ngx_strcasecmp((u_char *) v, (u_char *) "CSV") != 0) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The S3 inventory's fileFormat must be CSV");
        goto done;
    }

    v = ngx_http_sfn_json_str(m, "destinationBucket");
    if (v && ngx_strncmp(v, "arn:aws:s3:::", 13) == 0) {
        v += 13;
    }

    if (v && (ngx_strlen(v) != mr->bucket.len
              || ngx_strncmp(v, mr->bucket.data, mr->bucket.len) != 0))
    {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The manifest's destinationBucket is not "
                                 "the bucket \"%V\" that holds it",
                                 &mr->bucket);
        goto done;
    }

    /* "Bucket, Key, Size, LastModifiedDate": the names, trimmed */

    v = ngx_http_sfn_json_str(m, "fileSchema");
    schema = cJSON_CreateArray();

    if (v == NULL || *v == '\0' || schema == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The manifest has no fileSchema");
        goto done;
    }

    last = (u_char *) v + ngx_strlen(v);

    for (s = (u_char *) v; s <= last; s = e + 1) {
        e = ngx_strlchr(s, last, ',');
        if (e == NULL) {
            e = last;
        }

        while (s < e && *s == ' ') {
            s++;
        }

        len = e - s;
        while (len && s[len - 1] == ' ') {
            len--;
        }

        name = cJSON_CreateString("");
        if (name == NULL) {
            goto done;
        }

        cJSON_free(name->valuestring);
        name->valuestring = cJSON_malloc(len + 1);
        if (name->valuestring == NULL) {
            cJSON_Delete(name);
            goto done;
        }

        ngx_memcpy(name->valuestring, s, len);
        name->valuestring[len] = '\0';
        cJSON_AddItemToArray(schema, name);
    }

    files = cJSON_GetObjectItemCaseSensitive(m, "files");
    if (!cJSON_IsArray(files)) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The manifest has no list of files");
        goto done;
    }

    cJSON_ArrayForEach(f, files) {
        k = cJSON_GetObjectItemCaseSensitive(f, "key");

        if (!cJSON_IsString(k)) {
            ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                     "A file of the manifest has no key");
            goto done;
        }

        if (ngx_http_sfn_mr_key_add(mr, (u_char *) k->valuestring,
                                    ngx_strlen(k->valuestring),
                                    NGX_HTTP_SFN_MR_OUTSIDE)
            != NGX_OK)
        {
            goto done;
        }
    }

    rc2 = ngx_http_sfn_mr_csv_config(mr, rc, schema);

done:

    cJSON_Delete(schema);
    cJSON_Delete(m);

    return rc2;
}


/* an Athena UNLOAD manifest: a line per data file, "s3://bucket/key" */

static ngx_int_t
ngx_http_sfn_mr_athena(ngx_http_sfn_maprun_t *mr, const char *key)
{
    u_char  *text, *p, *e, *last, *b;
    size_t   len;

    text = ngx_http_sfn_mr_slurp(mr, key, &len);
    if (text == NULL) {
        return NGX_ERROR;
    }

    last = text + len;

    for (p = text; p < last; p = e + 1) {
        e = ngx_strlchr(p, last, '\n');
        if (e == NULL) {
            e = last;
        }

        len = e - p;
        if (len && p[len - 1] == '\r') {
            len--;
        }

        if (len == 0) {
            continue;
        }

        if (len < 5 || ngx_strncasecmp(p, (u_char *) "s3://", 5) != 0) {
            ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                     "A line of the manifest \"%s\" is not "
                                     "an s3:// URI", key);
            return NGX_ERROR;
        }

        b = p + 5;
        p = ngx_strlchr(b, p + len, '/');

        if (p == NULL || (size_t) (p - b) != mr->bucket.len
            || ngx_strncmp(b, mr->bucket.data, mr->bucket.len) != 0)
        {
            ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                     "The manifest \"%s\" names an object "
                                     "outside the bucket \"%V\"", key,
                                     &mr->bucket);
            return NGX_ERROR;
        }

        p++;

        if (ngx_http_sfn_mr_key_add(mr, p, b + len - 5 - p,
                                    NGX_HTTP_SFN_MR_OUTSIDE)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_reset_pool(mr->scratch);

    return NGX_OK;
}


/* "/a/b~1c/0": its tokens, "~1" as "/" and "~0" as "~" */

static ngx_int_t
ngx_http_sfn_mr_pointer(ngx_http_sfn_maprun_t *mr, const char *text)
{
    u_char  *p, *e, *last, *w, *tok;
    cJSON   *s;

    mr->pointer_text = (char *) ngx_pnalloc(mr->pool, ngx_strlen(text) + 1);
    mr->pointer = cJSON_CreateArray();

    if (mr->pointer_text == NULL || mr->pointer == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn((u_char *) mr->pointer_text, (u_char *) text,
                ngx_strlen(text) + 1);

    last = (u_char *) text + ngx_strlen(text);

    for (p = (u_char *) text + 1; p <= last && *text == '/'; p = e + 1) {
        e = ngx_strlchr(p, last, '/');
        if (e == NULL) {
            e = last;
        }

        tok = ngx_pnalloc(mr->scratch, e - p + 1);
        if (tok == NULL) {
            return NGX_ERROR;
        }

        for (w = tok; p < e; p++) {
            if (*p == '~' && p + 1 < e && (p[1] == '0' || p[1] == '1')) {
                *w++ = (p[1] == '1') ? '/' : '~';
                p++;

            } else {
                *w++ = *p;
            }
        }

        *w = '\0';

        s = cJSON_CreateString((char *) tok);
        if (s == NULL) {
            return NGX_ERROR;
        }

        cJSON_AddItemToArray(mr->pointer, s);
    }

    ngx_reset_pool(mr->scratch);

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_mr_format(ngx_http_sfn_maprun_t *mr, const char *type)
{
    if (type == NULL || ngx_strcmp(type, "JSON") == 0) {
        mr->format = NGX_HTTP_SFN_MR_JSON;

    } else if (ngx_strcmp(type, "JSONL") == 0) {
        mr->format = NGX_HTTP_SFN_MR_JSONL;

    } else if (ngx_strcmp(type, "CSV") == 0) {
        mr->format = NGX_HTTP_SFN_MR_CSV;

    } else {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "InputType \"%s\" is not read here", type);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_sfn_maprun_source(ngx_http_sfn_maprun_t *mr,
    const sfn_map_req_t *req)
{
    ngx_int_t     rc2;
    ngx_str_t     name;
    const char   *res, *type, *bucket, *key, *manifest, *transform;
    const cJSON  *p, *rc, *v;

    mr->fd = NGX_INVALID_FILE;

    if (req->reader == NULL) {
        mr->source = NGX_HTTP_SFN_MR_ARRAY;
        mr->item = req->items ? req->items->child : NULL;
        return NGX_OK;
    }

    res = ngx_http_sfn_json_str(req->reader, "Resource");
    p = cJSON_GetObjectItemCaseSensitive(req->reader, "Parameters");
    rc = cJSON_GetObjectItemCaseSensitive(req->reader, "ReaderConfig");

    v = cJSON_GetObjectItemCaseSensitive(rc, "MaxItems");
    if (cJSON_IsNumber(v) && v->valuedouble > 0) {
        mr->max_items = (int64_t) v->valuedouble;
    }

    type = ngx_http_sfn_json_str(rc, "InputType");
    manifest = ngx_http_sfn_json_str(rc, "ManifestType");
    transform = ngx_http_sfn_json_str(rc, "Transformation");

    mr->keys = ngx_array_create(mr->pool, 4, sizeof(ngx_str_t));
    if (mr->keys == NULL) {
        return NGX_ERROR;
    }

    bucket = ngx_http_sfn_json_str(p, "Bucket");
    if (bucket == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The ItemReader needs a Bucket");
        mr->source_done = 1;
        return NGX_OK;
    }

    name.data = (u_char *) bucket;
    name.len = ngx_strlen(bucket);

    if (ngx_http_sfn_pstr(mr->pool, &name, &mr->bucket) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_sfn_mr_path(mr, bucket, NULL, &mr->bucket_path, NULL)
        != NGX_OK)
    {
        mr->source_done = 1;
        return mr->error ? NGX_OK : NGX_ERROR;
    }

    if (ngx_strcmp(res, "sfn:file:list") == 0) {
        mr->source = NGX_HTTP_SFN_MR_LIST;

        if (ngx_http_sfn_mr_list(mr, ngx_http_sfn_json_str(p, "Prefix"))
            != NGX_OK)
        {
            mr->source_done = 1;
            return mr->error ? NGX_OK : NGX_ERROR;
        }

        if (transform == NULL || ngx_strcmp(transform, "LOAD_AND_FLATTEN"))
        {
            return NGX_OK;
        }

        /* LOAD_AND_FLATTEN: the items of the objects listed */

        mr->source = NGX_HTTP_SFN_MR_FILES;
        rc2 = ngx_http_sfn_mr_format(mr, type);
        v = cJSON_GetObjectItemCaseSensitive(rc, "ItemsPointer");

        if (rc2 == NGX_OK && mr->format == NGX_HTTP_SFN_MR_CSV) {
            rc2 = ngx_http_sfn_mr_csv_config(mr, rc, NULL);

        } else if (rc2 == NGX_OK && cJSON_IsString(v)
                   && mr->format == NGX_HTTP_SFN_MR_JSON)
        {
            rc2 = ngx_http_sfn_mr_pointer(mr, v->valuestring);
        }

        if (rc2 != NGX_OK) {
            mr->source_done = 1;
            return mr->error ? NGX_OK : NGX_ERROR;
        }

        goto buffer;
    }

    key = ngx_http_sfn_json_str(p, "Key");
    if (key == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The ItemReader needs a Key");
        mr->source_done = 1;
        return NGX_OK;
    }

    mr->source = NGX_HTTP_SFN_MR_FILES;

    if ((type && ngx_strcmp(type, "MANIFEST") == 0)
        || (manifest && ngx_strcmp(manifest, "S3_INVENTORY") == 0))
    {
        mr->format = NGX_HTTP_SFN_MR_CSV;
        rc2 = ngx_http_sfn_mr_inventory(mr, key, rc);

    } else {
        rc2 = ngx_http_sfn_mr_format(mr, type);

        if (rc2 == NGX_OK) {
            if (manifest) {
                /* ATHENA_DATA */
                rc2 = ngx_http_sfn_mr_athena(mr, key);

            } else {
                rc2 = ngx_http_sfn_mr_key_add(mr, (u_char *) key,
                                              ngx_strlen(key),
                                              "The key is not valid");
            }
        }

        v = cJSON_GetObjectItemCaseSensitive(rc, "ItemsPointer");

        if (rc2 == NGX_OK && cJSON_IsString(v)
            && mr->format == NGX_HTTP_SFN_MR_JSON)
        {
            rc2 = ngx_http_sfn_mr_pointer(mr, v->valuestring);
        }

        if (rc2 == NGX_OK && mr->format == NGX_HTTP_SFN_MR_CSV) {
            rc2 = ngx_http_sfn_mr_csv_config(mr, rc, NULL);
        }
    }

    if (rc2 != NGX_OK) {
        mr->source_done = 1;
        return mr->error ? NGX_OK : NGX_ERROR;
    }

buffer:

    mr->buf_size = NGX_HTTP_SFN_MR_CHUNK;
    mr->buf = ngx_alloc(mr->buf_size, ngx_cycle->log);
    if (mr->buf == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the file being read is done with: its descriptor, its decompressor */

static void
ngx_http_sfn_mr_file_done(ngx_http_sfn_maprun_t *mr)
{
    if (mr->fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(mr->fd);
        mr->fd = NGX_INVALID_FILE;
    }

    if (mr->z) {
        if (mr->compressed == NGX_HTTP_SFN_MR_GZIP) {
            (void) inflateEnd(mr->z);
            ngx_free(mr->z);

        } else {
            (void) ZSTD_freeDStream(mr->z);
        }

        mr->z = NULL;
    }

    mr->compressed = 0;
}


/*
 * The next file of the list: opened, its compression told by its first
 * bytes (GZIP and ZSTD, as AWS reads them), the reader's state reset
 */

static ngx_int_t
ngx_http_sfn_mr_file_next(ngx_http_sfn_maprun_t *mr)
{
    u_char      magic[4];
    ssize_t     n;
    ngx_str_t   path, bpath, *k;
    z_stream   *zs;

    ngx_http_sfn_mr_file_done(mr);

    if (mr->key_next == mr->keys->nelts) {
        return NGX_DONE;
    }

    k = &((ngx_str_t *) mr->keys->elts)[mr->key_next++];
    mr->file = *k;

    if (k->len + mr->bucket_path.len + 2 > NGX_MAX_PATH) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The key is not valid");
        return NGX_ERROR;
    }

    bpath = mr->bucket_path;
    path.data = ngx_pnalloc(mr->scratch, bpath.len + k->len + 2);
    if (path.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(path.data, "%V/%V%Z", &bpath, k);

    mr->fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    ngx_reset_pool(mr->scratch);

    if (mr->fd == NGX_INVALID_FILE) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The object \"%V\" in \"%V\" could not be "
                                 "read: %s", k, &mr->bucket,
                                 ngx_errno == NGX_ENOENT
                                 ? "it does not exist" : "an I/O error");
        return NGX_ERROR;
    }

    mr->pos = 0;
    mr->last = 0;
    mr->line = 0;
    mr->eof = 0;
    mr->zeof = 0;
    mr->zdone = 0;
    mr->started = 0;
    mr->pointing = (mr->pointer != NULL);
    mr->scanned = 0;
    mr->inflated = 0;

    if (mr->header_row && mr->headers) {
        cJSON_Delete(mr->headers);
        mr->headers = NULL;
    }

    n = pread(mr->fd, magic, 4, 0);

    if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        zs = ngx_calloc(sizeof(z_stream), ngx_cycle->log);
        if (zs == NULL) {
            return NGX_ERROR;
        }

        /* 16 + MAX_WBITS: a gzip header, and gzip members one after another */

        if (inflateInit2(zs, 16 + MAX_WBITS) != Z_OK) {
            ngx_free(zs);
            return NGX_ERROR;
        }

        mr->z = zs;
        mr->compressed = NGX_HTTP_SFN_MR_GZIP;

    } else if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5
               && magic[2] == 0x2f && magic[3] == 0xfd)
    {
        /*
         * a window of 16 MiB at most (zstd -19 uses 8): a frame that asks
         * for more (--long, --ultra) is refused, not given its memory
         */

        mr->z = ZSTD_createDStream();
        if (mr->z == NULL || ZSTD_isError(ZSTD_initDStream(mr->z))
            || ZSTD_isError(ZSTD_DCtx_setParameter(mr->z,
                                                   ZSTD_d_windowLogMax, 24)))
        {
            if (mr->z) {
                (void) ZSTD_freeDStream(mr->z);
                mr->z = NULL;
            }
            return NGX_ERROR;
        }

        mr->compressed = NGX_HTTP_SFN_MR_ZSTD;
    }

    if (mr->compressed && mr->zin == NULL) {
        mr->zin = ngx_alloc(NGX_HTTP_SFN_MR_CHUNK, ngx_cycle->log);
        if (mr->zin == NULL) {
            return NGX_ERROR;
        }
    }

    mr->zin_pos = 0;
    mr->zin_last = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_mr_too_large(ngx_http_sfn_maprun_t *mr, size_t len)
{
    if (len <= NGX_HTTP_SFN_MR_LINE) {
        return 0;
    }

    ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                             "The item at line %ui of \"%V\" is larger than "
                             "%d bytes", mr->line + 1, &mr->file,
                             NGX_HTTP_SFN_MR_LINE);
    return 1;
}


/*
 * size bytes at most of the object, decompressed: the input read 64 KiB
 * at a time.  0 at its end.
 */

static ssize_t
ngx_http_sfn_mr_inflate(ngx_http_sfn_maprun_t *mr, u_char *out, size_t size)
{
    int             zrc;
    size_t          got, ret;
    ssize_t         n;
    z_stream       *zs;
    ZSTD_inBuffer   zi;
    ZSTD_outBuffer  zo;

    got = 0;

    while (got == 0) {
        if (mr->zin_pos == mr->zin_last && !mr->zeof) {
            n = read(mr->fd, mr->zin, NGX_HTTP_SFN_MR_CHUNK);
            if (n == -1) {
                return NGX_ERROR;
            }

            mr->zin_pos = 0;
            mr->zin_last = n;

            if (n == 0) {
                mr->zeof = 1;
            }
        }

        if (mr->compressed == NGX_HTTP_SFN_MR_GZIP) {
            zs = mr->z;
            zs->next_in = mr->zin + mr->zin_pos;
            zs->avail_in = mr->zin_last - mr->zin_pos;
            zs->next_out = out;
            zs->avail_out = size;

            zrc = inflate(zs, Z_NO_FLUSH);

            mr->zin_pos = mr->zin_last - zs->avail_in;
            got = size - zs->avail_out;

            if (zrc == Z_STREAM_END) {
                if (mr->zin_pos == mr->zin_last && mr->zeof) {
                    mr->zdone = 1;
                    break;
                }

                /* another gzip member follows */
                if (inflateReset(zs) != Z_OK) {
                    return NGX_DECLINED;
                }

                continue;
            }

            if (zrc == Z_BUF_ERROR && got == 0 && mr->zeof
                && mr->zin_pos == mr->zin_last)
            {
                if (zs->total_in == 0) {
                    /* the end, just after a member */
                    mr->zdone = 1;
                    break;
                }

                return NGX_ABORT;       /* it ends early */
            }

            if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
                return NGX_DECLINED;
            }

        } else {
            zi.src = mr->zin + mr->zin_pos;
            zi.size = mr->zin_last - mr->zin_pos;
            zi.pos = 0;
            zo.dst = out;
            zo.size = size;
            zo.pos = 0;

            ret = ZSTD_decompressStream(mr->z, &zo, &zi);

            mr->zin_pos += zi.pos;
            got = zo.pos;

            if (ZSTD_isError(ret)) {
                return NGX_DECLINED;
            }

            if (got == 0 && mr->zeof && mr->zin_pos == mr->zin_last) {
                if (ret != 0) {
                    return NGX_ABORT;
                }

                mr->zdone = 1;
                break;
            }
        }
    }

    mr->inflated += got;

    return got;
}


/*
 * More of the object: what is unread moves to the front, and the buffer
 * grows up to one item's limit.  One read of at most 64 KiB a call, and
 * NGX_HTTP_SFN_MR_FILLS calls an item: NGX_AGAIN past them.
 */

static ngx_int_t
ngx_http_sfn_mr_fill(ngx_http_sfn_maprun_t *mr)
{
    size_t   size;
    u_char  *p;
    ssize_t  n;

    if (mr->eof) {
        return NGX_DONE;
    }

    if (mr->fills++ == NGX_HTTP_SFN_MR_FILLS) {
        /* blank lines on and on (a bomb): the pump's next turn goes on */
        return NGX_AGAIN;
    }

    if (mr->pos) {
        ngx_memmove(mr->buf, mr->buf + mr->pos, mr->last - mr->pos);
        mr->last -= mr->pos;
        mr->pos = 0;
    }

    if (mr->buf_size - mr->last < NGX_HTTP_SFN_MR_CHUNK / 2) {
        if (!mr->pointing && ngx_http_sfn_mr_too_large(mr, mr->last)) {
            return NGX_ERROR;
        }

        size = mr->buf_size * 2;
        p = ngx_alloc(size, ngx_cycle->log);
        if (p == NULL) {
            ngx_http_sfn_maprun_fail(mr, "States.Runtime", "out of memory");
            return NGX_ERROR;
        }

        ngx_memcpy(p, mr->buf, mr->last);
        ngx_free(mr->buf);
        mr->buf = p;
        mr->buf_size = size;
    }

    size = ngx_min(mr->buf_size - mr->last, NGX_HTTP_SFN_MR_CHUNK);

    if (mr->compressed) {
        n = mr->zdone ? 0 : ngx_http_sfn_mr_inflate(mr, mr->buf + mr->last,
                                                    size);

        if (n == NGX_ABORT || n == NGX_DECLINED) {
            ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                     "The object \"%V\" is not valid %s%s",
                                     &mr->file,
                                     mr->compressed == NGX_HTTP_SFN_MR_GZIP
                                     ? "GZIP" : "ZSTD",
                                     n == NGX_ABORT ? ": it ends early" : "");
            return NGX_ERROR;
        }

        if (mr->inflated > NGX_HTTP_SFN_MR_OBJECT) {
            ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                     "The object \"%V\" is larger than 10 GB "
                                     "decompressed", &mr->file);
            return NGX_ERROR;
        }

    } else {
        n = read(mr->fd, mr->buf + mr->last, size);
    }

    if (n == -1 || n == NGX_ERROR) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The object \"%V\" could not be read",
                                 &mr->file);
        return NGX_ERROR;
    }

    if (n == 0) {
        mr->eof = 1;
        return NGX_DONE;
    }

    mr->last += n;

    return NGX_OK;
}


static cJSON *
ngx_http_sfn_mr_parse(ngx_http_sfn_maprun_t *mr, u_char *p, size_t len)
{
    cJSON  *v;

    if (ngx_http_sfn_mr_too_large(mr, len)) {
        return NULL;
    }

    v = sfn_json_parse((char *) p, len);

    if (v == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The item at line %ui is not valid JSON",
                                 mr->line + 1);
    }

    return v;
}


/* JSON Lines: a value a line; blank lines are skipped */

static ngx_int_t
ngx_http_sfn_mr_jsonl(ngx_http_sfn_maprun_t *mr, cJSON **item)
{
    u_char     *p, *nl, *end;
    ngx_int_t   rc;

    for ( ;; ) {
        p = mr->buf + mr->pos;
        nl = ngx_strlchr(p, mr->buf + mr->last, '\n');

        if (nl == NULL && !mr->eof) {
            rc = ngx_http_sfn_mr_fill(mr);
            if (rc == NGX_ERROR || rc == NGX_AGAIN) {
                return rc;
            }
            continue;
        }

        if (nl == NULL && mr->pos == mr->last) {
            return NGX_DONE;
        }

        end = nl ? nl : mr->buf + mr->last;
        mr->pos = (nl ? nl + 1 : end) - mr->buf;

        while (end > p && (end[-1] == '\r' || end[-1] == ' '
                           || end[-1] == '\t'))
        {
            end--;
        }

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == end) {
            mr->line++;
            continue;
        }

        *item = ngx_http_sfn_mr_parse(mr, p, end - p);
        mr->line++;

        return *item ? NGX_OK : NGX_ERROR;
    }
}


/*
 * ItemsPointer (RFC 6901): the array it points at, found by scanning the
 * object's first NGX_HTTP_SFN_MR_POINTER bytes, the values on the way
 * skipped unparsed
 */

static u_char *
ngx_http_sfn_mr_ws(u_char *p, u_char *last)
{
    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    return p;
}


/* the end of the value at p, or NULL when it is not all before last */

static u_char *
ngx_http_sfn_mr_skip(u_char *p, u_char *last)
{
    ngx_uint_t  depth, str, esc;

    if (*p != '"' && *p != '{' && *p != '[') {
        while (p < last && *p != ',' && *p != '}' && *p != ']'
               && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
        {
            p++;
        }

        return p < last ? p : NULL;
    }

    depth = 0;
    str = 0;
    esc = 0;

    for ( /* void */ ; p < last; p++) {
        if (str) {
            if (esc) {
                esc = 0;

            } else if (*p == '\\') {
                esc = 1;

            } else if (*p == '"') {
                str = 0;
                if (depth == 0) {
                    return p + 1;
                }
            }

            continue;
        }

        if (*p == '"') {
            str = 1;

        } else if (*p == '{' || *p == '[') {
            depth++;

        } else if ((*p == '}' || *p == ']') && --depth == 0) {
            return p + 1;
        }
    }

    return NULL;
}


/*
 * Past the value at *p to the ',' after it (NGX_OK, *p there), or to the
 * closer (NGX_DONE); NGX_AGAIN when that is not all before last,
 * NGX_DECLINED when something else follows.
 */

static ngx_int_t
ngx_http_sfn_mr_next(u_char **pp, u_char *last, u_char close)
{
    u_char  *p;

    p = ngx_http_sfn_mr_skip(*pp, last);
    if (p == NULL) {
        return NGX_AGAIN;
    }

    p = ngx_http_sfn_mr_ws(p, last);
    if (p == last) {
        return NGX_AGAIN;
    }

    if (*p == close) {
        return NGX_DONE;
    }

    if (*p != ',') {
        return NGX_DECLINED;
    }

    *pp = p;

    return NGX_OK;
}


/* NGX_OK with *at on the array, NGX_AGAIN for more bytes, NGX_ERROR */

static ngx_int_t
ngx_http_sfn_mr_point(ngx_http_sfn_maprun_t *mr, u_char *p, u_char *last,
    u_char **at)
{
    cJSON      *k;
    u_char     *e;
    ngx_int_t   idx, i, rc;
    ngx_uint_t  match;
    cJSON      *seg;

    cJSON_ArrayForEach(seg, mr->pointer) {
        p = ngx_http_sfn_mr_ws(p, last);
        if (p == last) {
            return NGX_AGAIN;
        }

        if (*p == '{') {
            for (p++; /* void */; p++) {
                p = ngx_http_sfn_mr_ws(p, last);
                if (p == last) {
                    return NGX_AGAIN;
                }

                if (*p == '}') {
                    goto nothing;
                }

                if (*p != '"') {
                    goto bad;
                }

                e = ngx_http_sfn_mr_skip(p, last);
                if (e == NULL) {
                    return NGX_AGAIN;
                }

                /* the member's name, decoded as JSON decodes it */
                k = sfn_json_parse((char *) p, e - p);
                match = (k && cJSON_IsString(k)
                         && ngx_strcmp(k->valuestring, seg->valuestring) == 0);
                cJSON_Delete(k);

                p = ngx_http_sfn_mr_ws(e, last);
                if (p == last) {
                    return NGX_AGAIN;
                }

                if (*p != ':') {
                    goto bad;
                }

                p = ngx_http_sfn_mr_ws(p + 1, last);
                if (p == last) {
                    return NGX_AGAIN;
                }

                if (match) {
                    break;
                }

                rc = ngx_http_sfn_mr_next(&p, last, '}');
                if (rc == NGX_AGAIN) {
                    return NGX_AGAIN;
                }

                if (rc == NGX_DONE) {
                    goto nothing;
                }

                if (rc != NGX_OK) {
                    goto bad;
                }
            }

        } else if (*p == '[') {
            idx = ngx_atoi((u_char *) seg->valuestring,
                           ngx_strlen(seg->valuestring));
            if (idx == NGX_ERROR) {
                goto nothing;
            }

            for (p++, i = 0; /* void */; p++, i++) {
                p = ngx_http_sfn_mr_ws(p, last);
                if (p == last) {
                    return NGX_AGAIN;
                }

                if (*p == ']') {
                    goto nothing;
                }

                if (i == idx) {
                    break;
                }

                rc = ngx_http_sfn_mr_next(&p, last, ']');
                if (rc == NGX_AGAIN) {
                    return NGX_AGAIN;
                }

                if (rc == NGX_DONE) {
                    goto nothing;
                }

                if (rc != NGX_OK) {
                    goto bad;
                }
            }

        } else {
            goto nothing;
        }
    }

    p = ngx_http_sfn_mr_ws(p, last);
    if (p == last) {
        return NGX_AGAIN;
    }

    if (*p != '[') {
        ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                 "The ItemsPointer \"%s\" does not point at "
                                 "an array of \"%V\"", mr->pointer_text,
                                 &mr->file);
        return NGX_ERROR;
    }

    *at = p;

    return NGX_OK;

nothing:

    ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                             "The ItemsPointer \"%s\" points at nothing in "
                             "\"%V\"", mr->pointer_text, &mr->file);
    return NGX_ERROR;

bad:

    ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                             "The object \"%V\" is not JSON", &mr->file);
    return NGX_ERROR;
}


/*
 * The object read until the pointer finds its array, the bytes read
 * doubling between two scans: the pointer scans twice what it reads
 */

static ngx_int_t
ngx_http_sfn_mr_pointed(ngx_http_sfn_maprun_t *mr)
{
    u_char     *at;
    size_t      want;
    ngx_int_t   rc;

    for ( ;; ) {
        if (mr->last - mr->pos >= mr->scanned || mr->eof) {
            rc = ngx_http_sfn_mr_point(mr, mr->buf + mr->pos,
                                       mr->buf + mr->last, &at);
            if (rc == NGX_OK) {
                mr->pos = at - mr->buf;
                mr->pointing = 0;
                return NGX_OK;
            }

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (mr->eof) {
                ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                         "The object \"%V\" ends before the "
                                         "array of the ItemsPointer \"%s\"",
                                         &mr->file, mr->pointer_text);
                return NGX_ERROR;
            }

            if (mr->last - mr->pos >= NGX_HTTP_SFN_MR_POINTER) {
                ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                         "The array of the ItemsPointer "
                                         "\"%s\" does not start within the "
                                         "first 16 MB of \"%V\"",
                                         mr->pointer_text, &mr->file);
                return NGX_ERROR;
            }

            want = 2 * (mr->last - mr->pos);
            mr->scanned = ngx_max(want, NGX_HTTP_SFN_MR_CHUNK);
        }

        rc = ngx_http_sfn_mr_fill(mr);
        if (rc == NGX_ERROR || rc == NGX_AGAIN) {
            return rc;
        }
    }
}


/*
 * A JSON array: each element is found by its depth, outside strings, and
 * parsed alone; the array is never held whole
 */

static ngx_int_t
ngx_http_sfn_mr_json(ngx_http_sfn_maprun_t *mr, cJSON **item)
{
    u_char     *p, *last, *start;
    ngx_int_t   rc;
    ngx_uint_t  depth, str, esc;

    if (mr->pointing) {
        rc = ngx_http_sfn_mr_pointed(mr);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    for ( ;; ) {
        p = mr->buf + mr->pos;
        last = mr->buf + mr->last;

        while (p < last && (*p == ' ' || *p == '\t' || *p == '\r'
                            || *p == '\n' || (mr->started && *p == ',')))
        {
            if (*p == '\n') {
                mr->line++;
            }
            p++;
        }

        mr->pos = p - mr->buf;

        if (p == last) {
            if (mr->eof) {
                ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                         mr->started
                                         ? "The object is not a JSON array: "
                                           "it ends early"
                                         : "The object is not a JSON array");
                return NGX_ERROR;
            }

            rc = ngx_http_sfn_mr_fill(mr);
            if (rc == NGX_ERROR || rc == NGX_AGAIN) {
                return rc;
            }
            continue;
        }

        if (!mr->started) {
            if (*p != '[') {
                ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                         "The object is not a JSON array");
                return NGX_ERROR;
            }
            mr->started = 1;
            mr->pos++;
            continue;
        }

        if (*p == ']') {
            mr->pos = mr->last;
            mr->eof = 1;
            return NGX_DONE;
        }

        /* one element: up to the ',' or ']' at depth 0 */

        start = p;
        depth = 0;
        str = 0;
        esc = 0;

        for ( /* void */ ; p < last; p++) {
            if (str) {
                if (esc) {
                    esc = 0;
                } else if (*p == '\\') {
                    esc = 1;
                } else if (*p == '"') {
                    str = 0;
                }
                continue;
            }

            if (*p == '"') {
                str = 1;

            } else if (*p == '[' || *p == '{') {
                depth++;

            } else if (*p == ']' || *p == '}') {
                if (depth == 0) {
                    break;
                }
                depth--;

            } else if (*p == ',' && depth == 0) {
                break;
            }
        }

        if (p == last) {
            if (mr->eof) {
                ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                         "The object is not a JSON array: "
                                         "it ends early");
                return NGX_ERROR;
            }

            rc = ngx_http_sfn_mr_fill(mr);
            if (rc == NGX_ERROR || rc == NGX_AGAIN) {
                return rc;
            }
            continue;
        }

        if (*p == '}' || (*p == ']' && depth)) {
            ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                     "The object is not a JSON array");
            return NGX_ERROR;
        }

        mr->pos = p - mr->buf;

        *item = ngx_http_sfn_mr_parse(mr, start, p - start);

        return *item ? NGX_OK : NGX_ERROR;
    }
}


/*
 * One CSV record (RFC 4180): its fields, or NGX_AGAIN for more bytes.
 * Fields are unquoted into a copy: the buffer is read again as it was
 * when the record is not whole yet.
 */

static ngx_int_t
ngx_http_sfn_mr_csv_record(ngx_http_sfn_maprun_t *mr, cJSON **fields)
{
    u_char     *p, *last, *f, *w, *copy;
    cJSON      *arr, *s;
    ngx_uint_t  quoted, lines;

    p = mr->buf + mr->pos;
    last = mr->buf + mr->last;

    arr = cJSON_CreateArray();
    copy = ngx_alloc(last - p + 1, ngx_cycle->log);

    if (arr == NULL || copy == NULL) {
        cJSON_Delete(arr);
        ngx_free(copy);
        return NGX_ERROR;
    }

    w = copy;

    lines = 0;

    for ( ;; ) {
        /* a field, unquoted into the copy */
        f = w;
        quoted = 0;

        if (p < last && *p == '"') {
            quoted = 1;
            p++;

            for ( ;; ) {
                if (p == last) {
                    goto again;
                }

                if (*p == '"') {
                    if (p + 1 == last) {
                        goto again;
                    }

                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }

                    p++;
                    break;
                }

                if (*p == '\n') {
                    lines++;
                }

                *w++ = *p++;
            }

        } else {
            while (p < last && *p != mr->delimiter && *p != '\n'
                   && *p != '\r')
            {
                if (*p == '"') {
                    cJSON_Delete(arr);
                    ngx_free(copy);
                    ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                             "The CSV line %ui has a quote "
                                             "inside a field",
                                             mr->line + 1);
                    return NGX_ERROR;
                }
                *w++ = *p++;
            }
        }

        if (p == last && !mr->eof) {
            goto again;
        }

        if (p < last && *p != mr->delimiter && *p != '\n' && *p != '\r') {
            cJSON_Delete(arr);
            ngx_free(copy);
            ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                     "The CSV line %ui has text after a "
                                     "quoted field", mr->line + 1);
            return NGX_ERROR;
        }

        if (ngx_strlchr(f, w, '\0') != NULL
            || !sfn_utf8_valid((char *) f, w - f))
        {
            cJSON_Delete(arr);
            ngx_free(copy);
            ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                     "The CSV line %ui is not UTF-8 text",
                                     mr->line + 1);
            return NGX_ERROR;
        }

        s = cJSON_CreateString("");
        if (s == NULL) {
            cJSON_Delete(arr);
            ngx_free(copy);
            return NGX_ERROR;
        }

        cJSON_free(s->valuestring);
        s->valuestring = cJSON_malloc(w - f + 1);
        if (s->valuestring == NULL) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            ngx_free(copy);
            return NGX_ERROR;
        }

        ngx_memcpy(s->valuestring, f, w - f);
        s->valuestring[w - f] = '\0';
        cJSON_AddItemToArray(arr, s);

        (void) quoted;

        if (p < last && *p == mr->delimiter) {
            p++;
            continue;
        }

        /* the record's end: "\n", "\r\n", or the object's */

        if (p < last && *p == '\r') {
            if (p + 1 == last && !mr->eof) {
                goto again;
            }
            p++;
        }

        if (p < last && *p == '\n') {
            p++;
        }

        if (ngx_http_sfn_mr_too_large(mr, p - (mr->buf + mr->pos))) {
            cJSON_Delete(arr);
            ngx_free(copy);
            return NGX_ERROR;
        }

        mr->pos = p - mr->buf;
        mr->line += 1 + lines;
        *fields = arr;
        ngx_free(copy);

        return NGX_OK;
    }

again:

    cJSON_Delete(arr);
    ngx_free(copy);

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_sfn_mr_csv(ngx_http_sfn_maprun_t *mr, cJSON **item)
{
    cJSON      *fields, *o, *h, *f;
    ngx_int_t   rc;

    for ( ;; ) {
        /* a blank line is no record */
        while (mr->pos < mr->last
               && (mr->buf[mr->pos] == '\n' || mr->buf[mr->pos] == '\r'))
        {
            if (mr->buf[mr->pos] == '\n') {
                mr->line++;
            }
            mr->pos++;
        }

        if (mr->pos == mr->last) {
            if (mr->eof) {
                return NGX_DONE;
            }

            rc = ngx_http_sfn_mr_fill(mr);
            if (rc == NGX_ERROR || rc == NGX_AGAIN) {
                return rc;
            }
            continue;
        }

        rc = ngx_http_sfn_mr_csv_record(mr, &fields);

        if (rc == NGX_AGAIN) {
            if (mr->eof) {
                ngx_http_sfn_maprun_fail(mr, "States.ItemReaderFailed",
                                         "The CSV line %ui ends inside a "
                                         "quoted field", mr->line + 1);
                return NGX_ERROR;
            }

            rc = ngx_http_sfn_mr_fill(mr);
            if (rc == NGX_ERROR || rc == NGX_AGAIN) {
                return rc;
            }
            continue;
        }

        if (rc != NGX_OK) {
            if (mr->error == NULL) {
                ngx_http_sfn_maprun_fail(mr, "States.Runtime",
                                         "out of memory");
            }
            return NGX_ERROR;
        }

        if (mr->headers == NULL) {
            /* FIRST_ROW: the names */
            mr->headers = fields;
            continue;
        }

        o = cJSON_CreateObject();
        if (o == NULL) {
            cJSON_Delete(fields);
            return NGX_ERROR;
        }

        /*
         * as AWS parses a text delimited file: a field missing is an
         * empty string, a field past the header's is left out
         */

        for (h = mr->headers->child; h; h = h->next) {
            f = fields->child ? cJSON_DetachItemFromArray(fields, 0)
                              : cJSON_CreateString("");
            if (f == NULL) {
                cJSON_Delete(o);
                cJSON_Delete(fields);
                return NGX_ERROR;
            }

            cJSON_AddItemToObject(o, h->valuestring, f);
        }

        cJSON_Delete(fields);
        *item = o;

        return NGX_OK;
    }
}


/*
 * the next item, NGX_DONE after the last, NGX_ERROR with mr->error set,
 * NGX_AGAIN when 4 MiB were read without one: the caller yields
 */

ngx_int_t
ngx_http_sfn_maprun_item(ngx_http_sfn_maprun_t *mr, cJSON **item)
{
    ngx_int_t   rc;
    ngx_str_t  *keys;

    *item = NULL;

    if (mr->error || mr->source_done
        || (mr->max_items && (int64_t) mr->read >= mr->max_items))
    {
        return NGX_DONE;
    }

    mr->fills = 0;

    switch (mr->source) {

    case NGX_HTTP_SFN_MR_ARRAY:
        if (mr->item == NULL) {
            return NGX_DONE;
        }

        *item = cJSON_Duplicate(mr->item, 1);
        mr->item = mr->item->next;
        rc = *item ? NGX_OK : NGX_ERROR;
        break;

    case NGX_HTTP_SFN_MR_LIST:
        keys = mr->keys->elts;

        do {
            if (mr->key_next == mr->keys->nelts) {
                return NGX_DONE;
            }

            cJSON_Delete(*item);
            *item = ngx_http_sfn_mr_list_item(mr, &keys[mr->key_next++]);
            ngx_reset_pool(mr->scratch);

        } while (*item && cJSON_IsNull(*item));

        rc = *item ? NGX_OK : NGX_ERROR;
        break;

    default:
        /* the files, one after another, each to its end */

        for ( ;; ) {
            if (mr->fd == NGX_INVALID_FILE) {
                rc = ngx_http_sfn_mr_file_next(mr);
                if (rc != NGX_OK) {
                    break;
                }
            }

            switch (mr->format) {

            case NGX_HTTP_SFN_MR_JSONL:
                rc = ngx_http_sfn_mr_jsonl(mr, item);
                break;

            case NGX_HTTP_SFN_MR_CSV:
                rc = ngx_http_sfn_mr_csv(mr, item);
                break;

            default:
                rc = ngx_http_sfn_mr_json(mr, item);
                break;
            }

            if (rc != NGX_DONE) {
                break;
            }

            ngx_http_sfn_mr_file_done(mr);
        }

        break;
    }

    if (rc == NGX_OK) {
        mr->read++;
        return NGX_OK;
    }

    if (rc == NGX_ERROR && mr->error == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.Runtime", "out of memory");
    }

    return rc;
}


void
ngx_http_sfn_maprun_source_close(ngx_http_sfn_maprun_t *mr)
{
    if (mr->fd != 0) {
        /* 0: no source was set up */
        ngx_http_sfn_mr_file_done(mr);
    }

    ngx_free(mr->buf);
    mr->buf = NULL;

    ngx_free(mr->zin);
    mr->zin = NULL;

    cJSON_Delete(mr->pointer);
    mr->pointer = NULL;

    cJSON_Delete(mr->headers);
    mr->headers = NULL;
}
