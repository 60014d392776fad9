
/*
 * Copyright (C) ngx_sfn authors
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "sfn_task.h"


static const sfn_task_def_t *const  sfn_task_families[] = {
    sfn_task_media_defs,
    sfn_task_file_defs,
    sfn_task_db_defs,
    sfn_task_http_defs,
    sfn_task_origin_defs,
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

    d = sfn_task_find(call->resource);
    if (d == NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "unknown resource \"%s\"", call->resource);
    }

    rc = d->handler(call);

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
    va_list  args;

    snprintf(call->error, sizeof(call->error), "%s",
             error ? error : "States.TaskFailed");

    va_start(args, fmt);
    vsnprintf(call->cause, sizeof(call->cause), fmt, args);
    va_end(args);

    return SFN_TASK_FAILED;
}


const char *
sfn_task_string(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}


char *
sfn_task_bucket_path(sfn_task_call_t *call, const char *bucket,
    const char *key, char *buf, size_t size)
{
    int          n;
    const char  *root, *p, *seg;

    if (bucket == NULL || key == NULL) {
        sfn_task_fail(call, "States.TaskFailed",
                      "\"bucket\" and \"key\" are required");
        return NULL;
    }

    root = call->env && call->env->bucket_path
           ? call->env->bucket_path(call->env->data, bucket) : NULL;

    if (root == NULL) {
        sfn_task_fail(call, "States.TaskFailed",
                      "unknown bucket \"%s\"", bucket);
        return NULL;
    }

    /* a key is relative and has no "." or ".." segment: it cannot escape */

    if (key[0] == '\0' || key[0] == '/') {
        goto invalid;
    }

    for (seg = key; *seg; seg = (*p == '/') ? p + 1 : p) {
        for (p = seg; *p && *p != '/'; p++) { /* void */ }

        if (p == seg
            || (p - seg == 1 && seg[0] == '.')
            || (p - seg == 2 && seg[0] == '.' && seg[1] == '.'))
        {
            goto invalid;
        }
    }

    n = snprintf(buf, size, "%s/%s", root, key);
    if (n < 0 || (size_t) n >= size) {
        sfn_task_fail(call, "States.TaskFailed", "key \"%s\" is too long",
                      key);
        return NULL;
    }

    return buf;

invalid:

    sfn_task_fail(call, "States.TaskFailed", "invalid key \"%s\"", key);
    return NULL;
}
