
/*
 * Copyright (C) ngx_sfn authors
 */


#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "sfn_task_int.h"


static size_t sfn_utf8_len(const unsigned char *p, size_t n);


static const sfn_task_def_t *const  sfn_task_families[] = {
    sfn_task_media_defs,
    sfn_task_file_defs,
    sfn_task_db_defs,
    sfn_task_http_defs,
    sfn_task_origin_defs,
    sfn_task_image_defs,
    NULL
};


/* AWS service integrations and the built-in task each maps onto */
static const struct {
    const char  *aws;
    const char  *sfn;
} sfn_task_aws_names[] = {
    { "arn:aws:states:::mediaconvert:createJob", "sfn:media:transcode" },
    { "arn:aws:states:::dynamodb:putItem", "sfn:db:put" },
    { "arn:aws:states:::dynamodb:updateItem", "sfn:db:update" },
    { "arn:aws:states:::dynamodb:getItem", "sfn:db:get" },
    { "arn:aws:states:::aws-sdk:s3:copyObject", "sfn:file:copy" },
    { "arn:aws:states:::aws-sdk:s3:deleteObject", "sfn:file:delete" },
    { "arn:aws:states:::sns:publish", "sfn:notify" },
    { "arn:aws:states:::lambda:invoke", "sfn:http:invoke" },
    { NULL, NULL }
};


static size_t
sfn_task_base_len(const char *resource)
{
    size_t       len, n;
    const char  *s;

    static const char  *suffixes[] = { ".sync", ".waitForTaskToken", NULL };

    len = strlen(resource);

    for (n = 0; suffixes[n]; n++) {
        s = suffixes[n];

        if (len > strlen(s) && strcmp(resource + len - strlen(s), s) == 0) {
            return len - strlen(s);
        }
    }

    return len;
}


int
sfn_task_global_init(void)
{
#ifdef __GLIBC__
    /*
     * glibc raises its mmap threshold to the largest block freed (up to
     * 32 MB) and its trim threshold to twice that: once a codec has freed
     * its frame buffers, later ones come from the arenas of the threads
     * that run codecs, and each arena keeps up to 64 MB of free top.
     * Fixed at its default, large blocks are mapped and unmapped when
     * freed, and the arenas' tops are trimmed.
     */

    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif

    /* libcurl's global state is not thread safe: set it up before threads */

    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}


const sfn_task_def_t *
sfn_task_find(const char *resource)
{
    size_t                 len;
    const char            *name;
    const sfn_task_def_t  *d;
    const sfn_task_def_t  *const *f;
    int                    i;

    len = sfn_task_base_len(resource);
    name = resource;

    for (i = 0; sfn_task_aws_names[i].aws; i++) {
        if (strlen(sfn_task_aws_names[i].aws) == len
            && strncmp(sfn_task_aws_names[i].aws, resource, len) == 0)
        {
            name = sfn_task_aws_names[i].sfn;
            len = strlen(name);
            break;
        }
    }

    for (f = sfn_task_families; *f; f++) {
        for (d = *f; d->name; d++) {
            if (strlen(d->name) == len && strncmp(d->name, name, len) == 0) {
                return d;
            }
        }
    }

    return NULL;
}


int
sfn_task_wants_token(const char *resource)
{
    size_t  len;

    len = strlen(resource);

    return len > 17 && strcmp(resource + len - 17, ".waitForTaskToken") == 0;
}


int
sfn_task_run(sfn_task_call_t *call)
{
    int                    rc;
    const sfn_task_def_t  *d;

    call->output = NULL;
    call->error[0] = '\0';
    call->cause[0] = '\0';

    call->again = 0;

    d = sfn_task_find(call->resource);

    if (d != NULL && !sfn_task_service_mapped(call)) {
        rc = d->handler(call);

    } else if (d != NULL) {
        rc = sfn_task_service(call);

    } else if (call->env
               && sfn_service_known(call->env->services, call->resource))
    {
        rc = sfn_task_service(call);

        if (rc == SFN_TASK_AGAIN) {
            return SFN_TASK_AGAIN;
        }

    } else {
        return sfn_task_fail(call, "States.TaskFailed",
                             "unknown resource \"%s\"", call->resource);
    }

    sfn_task_call_free(call);

#ifdef __GLIBC__
    /*
     * a media task's codec threads are gone and their arenas hold the
     * pages of what they freed: give those back, as the next job may run
     * in other arenas (the other tasks allocate kilobytes)
     */

    if (d && (strncmp(d->name, "sfn:media:", 10) == 0
              || strncmp(d->name, "sfn:image:", 10) == 0))
    {
        malloc_trim(0);
    }
#endif

    if (rc == SFN_TASK_OK && call->output == NULL) {
        call->output = cJSON_CreateObject();
    }

    if (rc != SFN_TASK_OK) {
        if (call->output) {
            cJSON_Delete(call->output);
            call->output = NULL;
        }

        if (call->error[0] == '\0') {
            snprintf(call->error, sizeof(call->error), "States.TaskFailed");
        }

        return SFN_TASK_FAILED;
    }

    return SFN_TASK_OK;
}


int
sfn_task_fail(sfn_task_call_t *call, const char *error, const char *fmt, ...)
{
    size_t          n;
    va_list         args;
    unsigned char  *p, *last;

    snprintf(call->error, sizeof(call->error), "%s",
             error ? error : "States.TaskFailed");

    va_start(args, fmt);
    vsnprintf(call->cause, sizeof(call->cause), fmt, args);
    va_end(args);

    /*
     * a cause goes into history, logs and replies: whatever a task echoed,
     * it is valid UTF-8 on one line
     */

    p = (unsigned char *) call->cause;
    last = p + strlen(call->cause);

    for ( /* void */ ; p < last; p += n) {
        n = (*p >= 0x20 && *p != 0x7f) ? sfn_utf8_len(p, last - p) : 0;

        if (n == 0) {
            *p = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : '?';
            n = 1;
        }
    }

    return SFN_TASK_FAILED;
}


const char *
sfn_task_string(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}


int
sfn_task_opt_string(sfn_task_call_t *call, const cJSON *obj,
    const char *name, const char **s)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);
    *s = NULL;

    if (item == NULL || cJSON_IsNull(item)) {
        return SFN_TASK_OK;
    }

    if (!cJSON_IsString(item)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"%s\" must be a string", name);
    }

    *s = item->valuestring;

    return SFN_TASK_OK;
}


/* the length of the UTF-8 sequence at p (at most n bytes), 0 if invalid */

static size_t
sfn_utf8_len(const unsigned char *p, size_t n)
{
    size_t    len, i;
    uint32_t  c, min;

    if (p[0] < 0x80) {
        return 1;
    }

    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        c = p[0] & 0x1f;
        min = 0x80;

    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        c = p[0] & 0x0f;
        min = 0x800;

    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        c = p[0] & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if (len > n) {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    /* overlong forms, UTF-16 surrogates and beyond U+10FFFF */

    if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) {
        return 0;
    }

    return len;
}


int
sfn_key_valid(const char *key, size_t len)
{
    size_t                n;
    const unsigned char  *p, *last, *seg;

    if (key == NULL || len == 0 || len > SFN_KEY_MAX || key[0] == '/'
        || key[len - 1] == '/')
    {
        return 0;
    }

    p = (const unsigned char *) key;
    last = p + len;

    for (seg = p; seg < last; seg = p + 1) {

        for (p = seg; p < last && *p != '/'; p += n) {
            if (*p < 0x20 || *p == 0x7f || *p == '\\') {
                return 0;
            }

            n = sfn_utf8_len(p, last - p);
            if (n == 0) {
                return 0;
            }
        }

        /* an empty, "." or ".." segment, an over-long one, or ours */

        if (p == seg
            || p - seg > SFN_SEGMENT_MAX
            || (p - seg == 1 && seg[0] == '.')
            || (p - seg == 2 && seg[0] == '.' && seg[1] == '.')
            || (p - seg >= 5 && memcmp(seg, ".sfn-", 5) == 0))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * A key for a cause: bytes that are not printable UTF-8 as \xNN, cut after
 * 256 bytes, so that no message carries what a log or a database refuses.
 */

int
sfn_task_text_valid(const char *s, size_t len)
{
    size_t                n;
    const unsigned char  *p, *last;

    p = (const unsigned char *) s;
    last = p + len;

    while (p < last) {
        n = (*p >= 0x20 && *p != 0x7f) ? sfn_utf8_len(p, last - p) : 0;

        if (n == 0) {
            return 0;
        }

        p += n;
    }

    return 1;
}


void
sfn_task_quote(char *buf, size_t size, const char *s, size_t len)
{
    size_t                n, room;
    const unsigned char  *p, *last;

    if (size == 0) {
        return;
    }

    p = (const unsigned char *) s;
    last = p + (len > 256 ? 256 : len);
    room = size - 1;

    while (p < last) {
        n = (*p >= 0x20 && *p != 0x7f && *p != '\\')
            ? sfn_utf8_len(p, last - p) : 0;

        if (n == 0) {
            if (room < 4) {
                break;
            }

            snprintf(buf, 5, "\\x%02x", *p);
            buf += 4;
            room -= 4;
            p++;
            continue;
        }

        if (room < n) {
            break;
        }

        memcpy(buf, p, n);
        buf += n;
        room -= n;
        p += n;
    }

    if (len > 256 && room >= 3) {
        memcpy(buf, "...", 3);
        buf += 3;
    }

    *buf = '\0';
}


const char *
sfn_task_bucket_root(sfn_task_call_t *call, const char *bucket)
{
    char         quoted[1100];
    const char  *root;

    if (bucket == NULL) {
        sfn_task_fail(call, "States.TaskFailed", "\"bucket\" is required");
        return NULL;
    }

    root = call->env && call->env->bucket_path
           ? call->env->bucket_path(call->env->data, bucket) : NULL;

    if (root == NULL) {
        sfn_task_quote(quoted, sizeof(quoted), bucket, strlen(bucket));
        sfn_task_fail(call, "States.TaskFailed", "unknown bucket \"%s\"",
                      quoted);
        return NULL;
    }

    return root;
}


char *
sfn_task_bucket_path(sfn_task_call_t *call, const char *bucket,
    const char *key, char *buf, size_t size)
{
    int          n;
    char         quoted[1100];
    const char  *root;

    if (bucket == NULL || key == NULL) {
        sfn_task_fail(call, "States.TaskFailed",
                      "\"bucket\" and \"key\" are required");
        return NULL;
    }

    root = sfn_task_bucket_root(call, bucket);
    if (root == NULL) {
        return NULL;
    }

    if (!sfn_key_valid(key, strlen(key))) {
        sfn_task_quote(quoted, sizeof(quoted), key, strlen(key));
        sfn_task_fail(call, "States.TaskFailed", "invalid key \"%s\"",
                      quoted);
        return NULL;
    }

    n = snprintf(buf, size, "%s/%s", root, key);
    if (n < 0 || (size_t) n >= size) {
        sfn_task_quote(quoted, sizeof(quoted), key, strlen(key));
        sfn_task_fail(call, "States.TaskFailed", "key \"%s\" is too long",
                      quoted);
        return NULL;
    }

    return buf;
}
