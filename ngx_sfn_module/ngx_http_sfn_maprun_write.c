
/*
 * Copyright (C) ngx_sfn authors
 *
 * A map run's results in a bucket, as ResultWriter asks.  Each child's
 * result is appended, in item order and as WriterConfig shapes it
 * (Transformation NONE, COMPACT or FLATTEN; OutputType JSON or JSONL), to
 * SUCCEEDED_n.json or FAILED_n.json under "<Prefix>/<map run id>/", a new
 * file past AWS's 5 GB, and the run ends with manifest.json, written then
 * renamed, as AWS lays them out.  The files' sizes are recorded with the
 * map run's progress, so a new owner truncates them back and goes on.
 */


#include "ngx_http_sfn_maprun.h"


#define NGX_HTTP_SFN_MR_FILE_SIZE  (5LL * 1024 * 1024 * 1024)  /* AWS's */


static ngx_http_sfn_mr_transform_e
ngx_http_sfn_mr_transform(const char *name)
{
    if (ngx_strcmp(name, "COMPACT") == 0) {
        return NGX_HTTP_SFN_MR_COMPACT;
    }

    if (ngx_strcmp(name, "FLATTEN") == 0) {
        return NGX_HTTP_SFN_MR_FLATTEN;
    }

    return NGX_HTTP_SFN_MR_NONE;
}


ngx_int_t
ngx_http_sfn_maprun_writer(ngx_http_sfn_maprun_t *mr, const cJSON *writer)
{
    u_char                 *p;
    size_t                  len;
    ngx_str_t               name;
    const char             *bucket, *prefix, *t, *o;
    const cJSON            *par, *wc;
    ngx_http_sfn_bucket_t  *b;

    mr->files[0].fd = NGX_INVALID_FILE;
    mr->files[1].fd = NGX_INVALID_FILE;
    mr->files[0].kind = "SUCCEEDED";
    mr->files[1].kind = "FAILED";

    if (ngx_array_init(&mr->files[0].done, mr->pool, 2,
                       sizeof(ngx_http_sfn_mr_file_t)) != NGX_OK
        || ngx_array_init(&mr->files[1].done, mr->pool, 2,
                          sizeof(ngx_http_sfn_mr_file_t)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* WriterConfig, checked with the definition */

    wc = cJSON_GetObjectItemCaseSensitive(writer, "WriterConfig");
    t = ngx_http_sfn_json_str(wc, "Transformation");
    o = ngx_http_sfn_json_str(wc, "OutputType");

    if (ngx_http_sfn_json_str(writer, "Resource") == NULL) {
        /* no files: the output, COMPACT unless told */
        mr->shaped = 1;
        mr->transform = t ? ngx_http_sfn_mr_transform(t)
                          : NGX_HTTP_SFN_MR_COMPACT;
        return NGX_OK;
    }

    mr->transform = t ? ngx_http_sfn_mr_transform(t) : NGX_HTTP_SFN_MR_NONE;
    mr->files[0].jsonl = (o && ngx_strcmp(o, "JSONL") == 0);
    mr->files[1].jsonl = mr->files[0].jsonl;
    mr->writer = 1;

    par = cJSON_GetObjectItemCaseSensitive(writer, "Parameters");
    bucket = ngx_http_sfn_json_str(par, "Bucket");
    prefix = ngx_http_sfn_json_str(par, "Prefix");

    if (bucket == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.ResultWriterFailed",
                                 "The ResultWriter needs a Bucket");
        mr->source_done = 1;
        return NGX_OK;
    }

    name.data = (u_char *) bucket;
    name.len = ngx_strlen(bucket);

    b = ngx_http_sfn_bucket_find(mr->smcf, &name);
    if (b == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.ResultWriterFailed",
                                 "The bucket \"%s\" does not exist", bucket);
        mr->source_done = 1;
        return NGX_OK;
    }

    if (ngx_http_sfn_pstr(mr->pool, &name, &mr->wbucket) != NGX_OK) {
        return NGX_ERROR;
    }

    /* "<Prefix>/<uuid>", without a doubled or leading slash */

    len = prefix ? ngx_strlen(prefix) : 0;
    while (len && prefix[len - 1] == '/') {
        len--;
    }

    mr->wkey.data = ngx_pnalloc(mr->pool, len + 1 + mr->uuid.len + 1);
    if (mr->wkey.data == NULL) {
        return NGX_ERROR;
    }

    p = mr->wkey.data;
    if (len) {
        p = ngx_cpymem(p, prefix, len);
        *p++ = '/';
    }
    p = ngx_cpymem(p, mr->uuid.data, mr->uuid.len);
    mr->wkey.len = p - mr->wkey.data;
    *p = '\0';

    if (!sfn_key_valid((char *) mr->wkey.data, mr->wkey.len)) {
        ngx_http_sfn_maprun_fail(mr, "States.ResultWriterFailed",
                                 "The Prefix is not valid");
        mr->source_done = 1;
        return NGX_OK;
    }

    mr->wdir.len = b->path.len + 1 + mr->wkey.len;
    mr->wdir.data = ngx_pnalloc(mr->pool, mr->wdir.len + 2);
    if (mr->wdir.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(mr->wdir.data, "%V/%V/%Z", &b->path, &mr->wkey);

    if (ngx_create_full_path(mr->wdir.data, 0755) != 0) {
        ngx_http_sfn_maprun_fail(mr, "States.ResultWriterFailed",
                                 "The results' prefix could not be made");
        mr->source_done = 1;
        return NGX_OK;
    }

    /* with its slash: files are named after it */
    mr->wdir.len++;

    return NGX_OK;
}


/* results go out in 64 KiB writes */

static ngx_int_t
ngx_http_sfn_mr_file_flush(ngx_http_sfn_mr_out_t *f)
{
    if (f->len
        && ngx_write_fd(f->fd, f->buf, f->len) != (ssize_t) f->len)
    {
        return NGX_ERROR;
    }

    f->len = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_mr_file_put(ngx_http_sfn_mr_out_t *f, u_char *data, size_t len)
{
    if (f->len + len > NGX_HTTP_SFN_MR_CHUNK
        && ngx_http_sfn_mr_file_flush(f) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (len > NGX_HTTP_SFN_MR_CHUNK) {
        return ngx_write_fd(f->fd, data, len) == (ssize_t) len ? NGX_OK
                                                               : NGX_ERROR;
    }

    f->len = ngx_cpymem(f->buf + f->len, data, len) - f->buf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_mr_file_close(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_out_t *f)
{
    ngx_http_sfn_mr_file_t  *d;

    if (f->fd == NGX_INVALID_FILE) {
        return NGX_OK;
    }

    if ((!f->jsonl && ngx_http_sfn_mr_file_put(f, (u_char *) "]", 1)
                      != NGX_OK)
        || ngx_http_sfn_mr_file_flush(f) != NGX_OK)
    {
        (void) ngx_close_file(f->fd);
        f->fd = NGX_INVALID_FILE;
        return NGX_ERROR;
    }

    f->size += f->jsonl ? 0 : 1;

    (void) ngx_close_file(f->fd);
    f->fd = NGX_INVALID_FILE;

    d = ngx_array_push(&f->done);
    if (d == NULL) {
        return NGX_ERROR;
    }

    d->size = f->size;
    d->key.len = mr->wkey.len + 1 + ngx_strlen(f->kind) + 1 + NGX_INT_T_LEN
                 + sizeof(".json");
    d->key.data = ngx_pnalloc(mr->pool, d->key.len);
    if (d->key.data == NULL) {
        return NGX_ERROR;
    }

    d->key.len = ngx_sprintf(d->key.data, "%V/%s_%ui.json", &mr->wkey,
                             f->kind, f->n)
                 - d->key.data;

    f->n++;
    f->size = 0;
    f->entries = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_mr_file_append(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_out_t *f, char *text, size_t len)
{
    u_char  path[NGX_MAX_PATH];

    if (f->fd != NGX_INVALID_FILE
        && f->size + len + 2 > NGX_HTTP_SFN_MR_FILE_SIZE)
    {
        if (ngx_http_sfn_mr_file_close(mr, f) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (f->fd == NGX_INVALID_FILE) {
        if (mr->wdir.len + 40 >= sizeof(path)) {
            return NGX_ERROR;
        }

        ngx_sprintf(path, "%V%s_%ui.json%Z", &mr->wdir, f->kind, f->n);

        f->fd = ngx_open_file(path, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                              0644);
        if (f->fd == NGX_INVALID_FILE) {
            return NGX_ERROR;
        }

        if (f->buf == NULL) {
            f->buf = ngx_palloc(mr->pool, NGX_HTTP_SFN_MR_CHUNK);
            if (f->buf == NULL) {
                return NGX_ERROR;
            }
        }

        f->len = 0;
        f->size = 0;

        if (!f->jsonl) {
            if (ngx_http_sfn_mr_file_put(f, (u_char *) "[", 1) != NGX_OK) {
                return NGX_ERROR;
            }

            f->size = 1;
        }
    }

    /* JSON: "[a,b" closed by "]"; JSON Lines: "a\nb\n" */

    if (f->jsonl) {
        if (ngx_http_sfn_mr_file_put(f, (u_char *) text, len) != NGX_OK
            || ngx_http_sfn_mr_file_put(f, (u_char *) "\n", 1) != NGX_OK)
        {
            return NGX_ERROR;
        }

        f->size += len + 1;

    } else {
        if ((f->entries
             && ngx_http_sfn_mr_file_put(f, (u_char *) ",", 1) != NGX_OK)
            || ngx_http_sfn_mr_file_put(f, (u_char *) text, len) != NGX_OK)
        {
            return NGX_ERROR;
        }

        f->size += len + (f->entries ? 1 : 0);
    }

    f->entries++;

    return NGX_OK;
}


/*
 * One child's record, AWS's fields (Transformation NONE): JSON text the
 * caller frees
 */

char *
ngx_http_sfn_maprun_record(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_slot_t *s)
{
    char        *text;
    u_char       buf[NGX_HTTP_SFN_NAME_LEN + 1], date[64];
    cJSON       *o, *d;
    size_t       n;
    ngx_str_t    name, arn;
    const char  *why;

    name.data = buf;
    name.len = ngx_snprintf(buf, sizeof(buf) - 1, "%V-%uL", &mr->uuid,
                            s->index)
               - buf;

    if (ngx_http_sfn_exec_arn(mr->smcf, mr->child->type, &mr->child->name,
                              &name, mr->scratch, &arn)
        == NULL)
    {
        return NULL;
    }

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    ngx_http_sfn_json_add_str(o, "ExecutionArn", &arn);
    ngx_http_sfn_json_add_str(o, "Input", &s->input);
    d = cJSON_AddObjectToObject(o, "InputDetails");
    cJSON_AddBoolToObject(d, "Included", 1);
    ngx_http_sfn_json_add_str(o, "Name", &name);

    if (s->status == SFN_SUCCEEDED) {
        ngx_http_sfn_json_add_str(o, "Output", &s->output);
        d = cJSON_AddObjectToObject(o, "OutputDetails");
        cJSON_AddBoolToObject(d, "Included", 1);

    } else {
        if (s->error.len) {
            ngx_http_sfn_json_add_str(o, "Error", &s->error);
        }
        if (s->cause.len) {
            ngx_http_sfn_json_add_str(o, "Cause", &s->cause);
        }
    }

    /* the reasons DescribeExecution gives (ngx_http_sfn_aws_redrive.c) */

    why = mr->child->type != SFN_STANDARD
          ? "Express executions cannot be redriven"
          : s->status == SFN_SUCCEEDED
            ? "Execution is SUCCEEDED and cannot be redriven" : NULL;

    cJSON_AddNumberToObject(o, "RedriveCount", 0);
    cJSON_AddStringToObject(o, "RedriveStatus", "NOT_REDRIVABLE");

    if (why) {
        cJSON_AddStringToObject(o, "RedriveStatusReason", why);
    }

    n = ngx_http_sfn_iso8601(date, s->start_ms);
    date[n] = '\0';
    cJSON_AddStringToObject(o, "StartDate", (char *) date);
    ngx_http_sfn_json_add_str(o, "StateMachineArn", &mr->child->arn);
    cJSON_AddStringToObject(o, "Status", sfn_status_name(s->status));

    n = ngx_http_sfn_iso8601(date, s->stop_ms ? s->stop_ms : s->start_ms);
    date[n] = '\0';
    cJSON_AddStringToObject(o, "StopDate", (char *) date);

    text = sfn_json_print(o);
    cJSON_Delete(o);
    ngx_reset_pool(mr->scratch);

    return text;
}


/* FLATTEN: a child's output that is an array, parsed; NULL otherwise */

cJSON *
ngx_http_sfn_maprun_flatten(ngx_str_t *output)
{
    cJSON  *v;

    if (output->len == 0 || output->data[0] != '[') {
        return NULL;
    }

    v = sfn_json_parse((char *) output->data, output->len);

    if (v && !cJSON_IsArray(v)) {
        cJSON_Delete(v);
        return NULL;
    }

    return v;
}


/*
 * One child's results in the files: its record (NONE, and any failure,
 * "returned unchanged"), its output (COMPACT), or the elements of an
 * output that is an array (FLATTEN)
 */

ngx_int_t
ngx_http_sfn_maprun_write(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_slot_t *s)
{
    char                   *text;
    cJSON                  *arr, *v;
    ngx_int_t               rc;
    ngx_http_sfn_mr_out_t  *f;

    if (mr->wdir.len == 0) {
        return NGX_OK;
    }

    f = &mr->files[s->status == SFN_SUCCEEDED ? 0 : 1];

    if (s->status != SFN_SUCCEEDED
        || mr->transform == NGX_HTTP_SFN_MR_NONE)
    {
        text = ngx_http_sfn_maprun_record(mr, s);
        if (text == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_sfn_mr_file_append(mr, f, text, ngx_strlen(text));
        free(text);

    } else if (mr->transform == NGX_HTTP_SFN_MR_FLATTEN
               && (arr = ngx_http_sfn_maprun_flatten(&s->output)) != NULL)
    {
        rc = NGX_OK;

        cJSON_ArrayForEach(v, arr) {
            text = sfn_json_print(v);
            if (text == NULL) {
                rc = NGX_ERROR;
                break;
            }

            rc = ngx_http_sfn_mr_file_append(mr, f, text, ngx_strlen(text));
            free(text);

            if (rc != NGX_OK) {
                break;
            }
        }

        cJSON_Delete(arr);

    } else if (s->output.len) {
        rc = ngx_http_sfn_mr_file_append(mr, f, (char *) s->output.data,
                                         s->output.len);

    } else {
        rc = ngx_http_sfn_mr_file_append(mr, f, "null", 4);
    }

    if (rc == NGX_OK) {
        mr->written++;
    }

    return rc;
}


static cJSON *
ngx_http_sfn_mr_file_list(ngx_http_sfn_mr_out_t *f)
{
    cJSON                   *arr, *o;
    ngx_uint_t               i;
    ngx_http_sfn_mr_file_t  *d;

    arr = cJSON_CreateArray();
    if (arr == NULL || f == NULL) {
        return arr;
    }

    d = f->done.elts;

    for (i = 0; i < f->done.nelts; i++) {
        o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        ngx_http_sfn_json_add_str(o, "Key", &d[i].key);
        cJSON_AddNumberToObject(o, "Size", (double) d[i].size);
    }

    return arr;
}


/* the files closed, manifest.json; details: the state's output */

ngx_int_t
ngx_http_sfn_maprun_manifest(ngx_http_sfn_maprun_t *mr, char **details)
{
    char      *text;
    cJSON     *m, *rf, *o, *d;
    u_char     path[NGX_MAX_PATH], tmp[NGX_MAX_PATH];
    size_t     len;
    ngx_fd_t   fd;
    ngx_str_t  key;

    if (mr->wdir.len == 0 || mr->wdir.len + 40 >= sizeof(path)) {
        return NGX_ERROR;
    }

    if (ngx_http_sfn_mr_file_close(mr, &mr->files[0]) != NGX_OK
        || ngx_http_sfn_mr_file_close(mr, &mr->files[1]) != NGX_OK)
    {
        return NGX_ERROR;
    }

    m = cJSON_CreateObject();
    if (m == NULL) {
        return NGX_ERROR;
    }

    ngx_http_sfn_json_add_str(m, "DestinationBucket", &mr->wbucket);
    ngx_http_sfn_json_add_str(m, "MapRunArn", &mr->arn);
    rf = cJSON_AddObjectToObject(m, "ResultFiles");
    cJSON_AddItemToObject(rf, "FAILED",
                          ngx_http_sfn_mr_file_list(&mr->files[1]));
    cJSON_AddItemToObject(rf, "PENDING", ngx_http_sfn_mr_file_list(NULL));
    cJSON_AddItemToObject(rf, "SUCCEEDED",
                          ngx_http_sfn_mr_file_list(&mr->files[0]));

    text = sfn_json_print(m);
    cJSON_Delete(m);

    if (text == NULL) {
        return NGX_ERROR;
    }

    /* written whole, then renamed: a manifest is there or it is not */

    ngx_sprintf(path, "%Vmanifest.json%Z", &mr->wdir);
    ngx_sprintf(tmp, "%V.sfn-manifest.json%Z", &mr->wdir);

    len = ngx_strlen(text);

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE, 0644);
    if (fd == NGX_INVALID_FILE) {
        free(text);
        return NGX_ERROR;
    }

    if (ngx_write_fd(fd, text, len) != (ssize_t) len) {
        free(text);
        (void) ngx_close_file(fd);
        (void) ngx_delete_file(tmp);
        return NGX_ERROR;
    }

    free(text);
    (void) ngx_close_file(fd);

    if (ngx_rename_file(tmp, path) == NGX_FILE_ERROR) {
        (void) ngx_delete_file(tmp);
        return NGX_ERROR;
    }

    if (details == NULL) {
        return NGX_OK;
    }

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NGX_ERROR;
    }

    key.len = mr->wkey.len + sizeof("/manifest.json") - 1;
    key.data = ngx_pnalloc(mr->pool, key.len);
    if (key.data == NULL) {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    ngx_sprintf(key.data, "%V/manifest.json", &mr->wkey);

    ngx_http_sfn_json_add_str(o, "MapRunArn", &mr->arn);
    d = cJSON_AddObjectToObject(o, "ResultWriterDetails");
    ngx_http_sfn_json_add_str(d, "Bucket", &mr->wbucket);
    ngx_http_sfn_json_add_str(d, "Key", &key);

    *details = sfn_json_print(o);
    cJSON_Delete(o);

    return *details ? NGX_OK : NGX_ERROR;
}


void
ngx_http_sfn_maprun_writer_close(ngx_http_sfn_maprun_t *mr)
{
    ngx_uint_t  i;

    if (!mr->writer) {
        return;
    }

    for (i = 0; i < 2; i++) {
        if (mr->files[i].fd != NGX_INVALID_FILE) {
            (void) ngx_close_file(mr->files[i].fd);
            mr->files[i].fd = NGX_INVALID_FILE;
        }
    }
}


/* the files as the progress records them: written out first */

ngx_int_t
ngx_http_sfn_maprun_files_flush(ngx_http_sfn_maprun_t *mr)
{
    ngx_uint_t  i;

    for (i = 0; mr->writer && i < 2; i++) {
        if (mr->files[i].fd != NGX_INVALID_FILE
            && ngx_http_sfn_mr_file_flush(&mr->files[i]) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


cJSON *
ngx_http_sfn_maprun_files_json(ngx_http_sfn_maprun_t *mr)
{
    cJSON                  *arr, *o;
    ngx_uint_t              i;
    ngx_http_sfn_mr_out_t  *f;

    arr = cJSON_CreateArray();
    if (arr == NULL) {
        return NULL;
    }

    for (i = 0; i < 2; i++) {
        f = &mr->files[i];

        o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "n", (double) f->n);
        cJSON_AddNumberToObject(o, "size",
                                f->fd != NGX_INVALID_FILE ? (double) f->size
                                                          : 0);
        cJSON_AddNumberToObject(o, "entries", (double) f->entries);
        cJSON_AddItemToObject(o, "done", ngx_http_sfn_mr_file_list(f));
    }

    return arr;
}


/*
 * A new owner: the closed files as they were, the open one cut back to
 * its recorded size (what was written after the record is written again)
 */

ngx_int_t
ngx_http_sfn_maprun_files_resume(ngx_http_sfn_maprun_t *mr,
    const cJSON *files)
{
    u_char                   path[NGX_MAX_PATH];
    ngx_uint_t               i;
    const cJSON             *o, *d, *k, *z;
    ngx_http_sfn_mr_out_t   *f;
    ngx_http_sfn_mr_file_t  *df;

    if (!mr->writer || mr->wdir.len == 0 || !cJSON_IsArray(files)
        || mr->wdir.len + 40 >= sizeof(path))
    {
        return NGX_OK;
    }

    for (i = 0; i < 2; i++) {
        f = &mr->files[i];
        o = cJSON_GetArrayItem(files, (int) i);

        if (!cJSON_IsObject(o)) {
            continue;
        }

        f->n = (ngx_uint_t) cJSON_GetNumberValue(
                   cJSON_GetObjectItemCaseSensitive(o, "n"));
        f->size = (off_t) cJSON_GetNumberValue(
                      cJSON_GetObjectItemCaseSensitive(o, "size"));
        f->entries = (ngx_uint_t) cJSON_GetNumberValue(
                         cJSON_GetObjectItemCaseSensitive(o, "entries"));

        d = cJSON_GetObjectItemCaseSensitive(o, "done");

        cJSON_ArrayForEach(k, d) {
            z = cJSON_GetObjectItemCaseSensitive(k, "Key");
            df = ngx_array_push(&f->done);
            if (df == NULL || !cJSON_IsString(z)) {
                return NGX_ERROR;
            }
            df->key.len = ngx_strlen(z->valuestring);
            df->key.data = ngx_pnalloc(mr->pool, df->key.len);
            if (df->key.data == NULL) {
                return NGX_ERROR;
            }
            ngx_memcpy(df->key.data, z->valuestring, df->key.len);
            df->size = (off_t) cJSON_GetNumberValue(
                           cJSON_GetObjectItemCaseSensitive(k, "Size"));
        }

        if (f->size == 0) {
            f->entries = 0;
            continue;
        }

        ngx_sprintf(path, "%V%s_%ui.json%Z", &mr->wdir, f->kind, f->n);

        f->fd = ngx_open_file(path, NGX_FILE_WRONLY, NGX_FILE_OPEN, 0644);
        if (f->fd == NGX_INVALID_FILE
            || ftruncate(f->fd, f->size) == -1
            || lseek(f->fd, f->size, SEEK_SET) == -1)
        {
            return NGX_ERROR;
        }

        f->buf = ngx_palloc(mr->pool, NGX_HTTP_SFN_MR_CHUNK);
        if (f->buf == NULL) {
            return NGX_ERROR;
        }

        f->len = 0;
    }

    return NGX_OK;
}
