
/*
 * Copyright (C) ngx_sfn authors
 *
 * PUT uploads into a bucket, the S3 PutObject analogue: the body goes to a
 * temporary file inside the bucket and is renamed into place only when it
 * is complete; matching sfn_trigger rules then start executions, as an S3
 * event notification would.
 */


#include "ngx_http_sfn_module.h"
#include <sfn_task.h>


#ifdef NAME_MAX
#define NGX_HTTP_SFN_MAX_SEGMENT  NAME_MAX
#else
#define NGX_HTTP_SFN_MAX_SEGMENT  255
#endif


static void ngx_http_sfn_upload_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_sfn_upload_error(ngx_http_request_t *r,
    ngx_err_t err, const char *failed, ngx_str_t *key);


ngx_int_t
ngx_http_sfn_upload_handler(ngx_http_request_t *r)
{
    u_char     *p, *seg, *last;
    ngx_int_t   rc;
    ngx_str_t   key, esc;

    if (r->method != NGX_HTTP_PUT) {
        return ngx_http_sfn_not_allowed(r, "PUT");
    }

    if (ngx_http_sfn_location_tail(r, &key) != NGX_OK
        || !sfn_key_valid((char *) key.data, key.len))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "sfn upload: invalid key \"%V\"",
                      ngx_http_sfn_log_escape(r->pool, &r->uri, &esc));

        return ngx_http_sfn_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "InvalidKey",
                                       "the key must be a relative path "
                                       "without \".\" or \"..\" segments");
    }

    /* a segment the file system cannot name is refused before the body */

    last = key.data + key.len;

    for (seg = key.data; seg < last; seg = p + 1) {
        p = ngx_strlchr(seg, last, '/');

        if (p == NULL) {
            p = last;
        }

        if (p - seg > NGX_HTTP_SFN_MAX_SEGMENT) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "sfn upload: key \"%V\" has a segment longer "
                          "than %d bytes",
                          ngx_http_sfn_log_escape(r->pool, &key, &esc),
                          NGX_HTTP_SFN_MAX_SEGMENT);

            return ngx_http_sfn_send_error(r, NGX_HTTP_BAD_REQUEST,
                                           "KeyTooLong",
                                           "a key segment is longer than "
                                           "%d bytes",
                                           NGX_HTTP_SFN_MAX_SEGMENT);
        }
    }

    r->request_body_in_file_only = 1;
    r->request_body_in_persistent_file = 1;
    r->request_body_in_clean_file = 1;
    r->request_body_file_group_access = 1;
    r->request_body_file_log_level = 0;

    rc = ngx_http_read_client_request_body(r, ngx_http_sfn_upload_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_uint_t
ngx_http_sfn_trigger_match(ngx_http_sfn_trigger_t *tr, ngx_str_t *key)
{
    ngx_str_t   *s;
    ngx_uint_t   i, match;

    s = tr->prefixes.elts;
    match = (tr->prefixes.nelts == 0);

    for (i = 0; i < tr->prefixes.nelts && !match; i++) {
        match = (key->len >= s[i].len
                 && ngx_strncmp(key->data, s[i].data, s[i].len) == 0);
    }

    if (!match) {
        return 0;
    }

    s = tr->suffixes.elts;
    match = (tr->suffixes.nelts == 0);

    for (i = 0; i < tr->suffixes.nelts && !match; i++) {
        match = (key->len >= s[i].len
                 && ngx_strncasecmp(key->data + key->len - s[i].len,
                                    s[i].data, s[i].len) == 0);
    }

    return match;
}


static ngx_int_t
ngx_http_sfn_upload_trigger(ngx_http_request_t *r, ngx_str_t *key,
    cJSON *reply, off_t size, ngx_str_t *etag, ngx_uint_t *durable)
{
    char                      *text;
    u_char                     id[NGX_UUID_LEN];
    cJSON                     *input, *list, *item;
    ngx_int_t                  rc;
    ngx_str_t                  job, arn, in;
    ngx_uint_t                 i;
    ngx_http_sfn_trigger_t    *tr;
    ngx_http_sfn_loc_conf_t   *slcf;
    ngx_http_sfn_main_conf_t  *smcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_sfn_module);
    smcf = ngx_http_get_module_main_conf(r, ngx_http_sfn_module);

    if (slcf->triggers == NULL) {
        return NGX_OK;
    }

    list = NULL;
    tr = slcf->triggers->elts;

    /*
     * backpressure, for all of them at once: none starts if a Standard
     * one would be refused (the client sends the object again)
     */

    if (smcf->database.len && ngx_http_sfn_pg_busy() == NGX_BUSY) {
        for (i = 0; i < slcf->triggers->nelts; i++) {
            if (tr[i].machine->type == SFN_STANDARD
                && ngx_http_sfn_trigger_match(&tr[i], key))
            {
                return NGX_BUSY;
            }
        }
    }

    for (i = 0; i < slcf->triggers->nelts; i++) {

        if (!ngx_http_sfn_trigger_match(&tr[i], key)) {
            continue;
        }

        job.data = id;
        job.len = ngx_http_sfn_uuid(id);

        input = cJSON_CreateObject();
        if (input == NULL) {
            return NGX_ERROR;
        }

        if (cJSON_AddStringToObject(input, "bucket",
                                    (char *) slcf->upload->name.data) == NULL
            || ngx_http_sfn_json_add_str(input, "key", key) == NULL
            || cJSON_AddNumberToObject(input, "size", (double) size) == NULL
            || ngx_http_sfn_json_add_str(input, "etag", etag) == NULL
            || ngx_http_sfn_json_add_str(input, "jobId", &job) == NULL)
        {
            cJSON_Delete(input);
            return NGX_ERROR;
        }

        text = cJSON_PrintUnformatted(input);
        cJSON_Delete(input);

        if (text == NULL) {
            return NGX_ERROR;
        }

        in.data = (u_char *) text;
        in.len = ngx_strlen(text);

        rc = ngx_http_sfn_exec_start(smcf, tr[i].machine, &job, &in, &job,
                                     &slcf->upload->name, key, NULL, NULL, NULL,
                                     &arn, r->pool);
        cJSON_free(text);

        if (rc != NGX_OK) {
            return (rc == NGX_BUSY) ? NGX_BUSY : NGX_ERROR;
        }

        if (tr[i].machine->type == SFN_STANDARD && smcf->database.len) {
            *durable = 1;
        }

        if (list == NULL) {
            if (ngx_http_sfn_json_add_str(reply, "jobId", &job) == NULL
                || ngx_http_sfn_json_add_str(reply, "executionArn", &arn)
                   == NULL)
            {
                return NGX_ERROR;
            }

            list = cJSON_AddArrayToObject(reply, "executions");
            if (list == NULL) {
                return NGX_ERROR;
            }
        }

        item = cJSON_CreateObject();
        if (item == NULL) {
            return NGX_ERROR;
        }

        cJSON_AddItemToArray(list, item);

        if (ngx_http_sfn_json_add_str(item, "stateMachine",
                                      &tr[i].machine->name) == NULL
            || ngx_http_sfn_json_add_str(item, "jobId", &job) == NULL
            || ngx_http_sfn_json_add_str(item, "executionArn", &arn) == NULL)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A failed write of the object, mapped as nginx's dav module maps it: a key
 * that clashes with a directory, or runs through a file, is the client's
 * conflict (409) and a name the file system refuses is a bad request (400),
 * both logged at err; the rest is ours, logged at crit.
 */

static ngx_int_t
ngx_http_sfn_upload_error(ngx_http_request_t *r, ngx_err_t err,
    const char *failed, ngx_str_t *key)
{
    ngx_str_t    esc;
    ngx_uint_t   level, status;
    const char  *type, *msg;

    switch (err) {

    case NGX_EISDIR:
    case NGX_ENOTDIR:
    case NGX_EEXIST:
    case ENOTEMPTY:
        level = NGX_LOG_ERR;
        status = NGX_HTTP_CONFLICT;
        type = "KeyConflict";
        msg = "the key names a prefix of other keys, or one of its "
              "prefixes is a key";
        break;

    case NGX_ENAMETOOLONG:
        level = NGX_LOG_ERR;
        status = NGX_HTTP_BAD_REQUEST;
        type = "KeyTooLong";
        msg = "the key is too long for the bucket";
        break;

    case NGX_ENOSPC:
        level = NGX_LOG_CRIT;
        status = NGX_HTTP_INSUFFICIENT_STORAGE;
        type = "InsufficientStorage";
        msg = "the bucket is full";
        break;

    default:
        level = NGX_LOG_CRIT;
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        type = "InternalError";
        msg = "the object could not be written";
    }

    ngx_log_error(level, r->connection->log, err,
                  "sfn upload: %s for key \"%V\" failed", failed,
                  ngx_http_sfn_log_escape(r->pool, key, &esc));

    return ngx_http_sfn_send_error(r, status, type, "%s", msg);
}


static void
ngx_http_sfn_upload_body(ngx_http_request_t *r)
{
    u_char                    *p;
    off_t                      size;
    cJSON                     *reply;
    ngx_fd_t                   fd;
    ngx_int_t                  rc;
    ngx_err_t                  err;
    ngx_str_t                  key, path, etag, esc;
    ngx_uint_t                 durable;
    ngx_file_info_t            fi;
    ngx_temp_file_t           *temp;
    ngx_http_sfn_loc_conf_t   *slcf;
    u_char                     tag[NGX_OFF_T_LEN + NGX_TIME_T_LEN + 8];

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_sfn_module);
    durable = 0;

    (void) ngx_http_sfn_location_tail(r, &key);

    path.len = slcf->upload->path.len + 1 + key.len;
    path.data = ngx_pnalloc(r->pool, path.len + 1);
    if (path.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_sprintf(path.data, "%V/%V%Z", &slcf->upload->path, &key);

    temp = r->request_body ? r->request_body->temp_file : NULL;

    if (temp == NULL) {

        /* an empty body: nginx made no temporary file, an empty object */

        err = ngx_create_full_path(path.data, 0755);

        if (err) {
            ngx_http_finalize_request(r,
                ngx_http_sfn_upload_error(r, err, ngx_create_dir_n, &key));
            return;
        }

        fd = ngx_open_file(path.data, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                           NGX_FILE_DEFAULT_ACCESS);
        if (fd == NGX_INVALID_FILE) {
            ngx_http_finalize_request(r,
                ngx_http_sfn_upload_error(r, ngx_errno, ngx_open_file_n,
                                          &key));
            return;
        }

    } else {
        fd = temp->file.fd;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                      ngx_fd_info_n " for key \"%V\" failed",
                      ngx_http_sfn_log_escape(r->pool, &key, &esc));
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (temp == NULL) {
        ngx_close_file(fd);

    } else {

        /*
         * ngx_ext_rename_file() is not used: it logs every failure at crit,
         * while a key that clashes with the bucket's tree is the client's
         * error; the temporary file is in the bucket (.sfn-upload), so on
         * its file system, and the request pool's cleanup removes it if the
         * rename fails
         */

        if (ngx_change_file_access(temp->file.name.data, 0644)
            == NGX_FILE_ERROR)
        {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                          ngx_change_file_access_n " \"%s\" failed",
                          temp->file.name.data);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (ngx_rename_file(temp->file.name.data, path.data)
            == NGX_FILE_ERROR)
        {
            err = ngx_errno;

            if (err == NGX_ENOENT) {
                err = ngx_create_full_path(path.data, 0755);

                if (err == 0
                    && ngx_rename_file(temp->file.name.data, path.data)
                       == NGX_FILE_ERROR)
                {
                    err = ngx_errno;
                }
            }

            if (err) {
                ngx_http_finalize_request(r,
                    ngx_http_sfn_upload_error(r, err, ngx_rename_file_n,
                                              &key));
                return;
            }
        }
    }

    size = ngx_file_size(&fi);

    /* the same form as nginx's static ETag: mtime and size */

    p = ngx_sprintf(tag, "%xT-%xO", ngx_file_mtime(&fi), size);
    etag.data = tag;
    etag.len = p - tag;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "sfn upload \"%V\" to bucket \"%V\": %O bytes",
                  ngx_http_sfn_log_escape(r->pool, &key, &esc),
                  &slcf->upload->name, size);

    reply = cJSON_CreateObject();
    if (reply == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_sfn_json_add_str(reply, "bucket", &slcf->upload->name) == NULL
        || ngx_http_sfn_json_add_str(reply, "key", &key) == NULL
        || cJSON_AddNumberToObject(reply, "size", (double) size) == NULL
        || ngx_http_sfn_json_add_str(reply, "etag", &etag) == NULL)
    {
        cJSON_Delete(reply);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_sfn_upload_trigger(r, &key, reply, size, &etag, &durable);

    if (rc == NGX_BUSY) {
        cJSON_Delete(reply);

        if (ngx_http_sfn_retry_after(r) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_finalize_request(r,
            ngx_http_sfn_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "ServiceUnavailable",
                                    "the object is stored but its "
                                    "workflow is not started: the database "
                                    "is behind, send it again later"));
        return;
    }

    if (rc != NGX_OK) {
        cJSON_Delete(reply);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (durable) {
        ngx_http_finalize_request(r,
                                  ngx_http_sfn_reply_durable(r,
                                                             NGX_HTTP_CREATED,
                                                             reply));
        return;
    }

    ngx_http_finalize_request(r,
                              ngx_http_sfn_send_json(r, NGX_HTTP_CREATED,
                                                     reply));
}
