
/*
 * Copyright (C) ngx_sfn authors
 *
 * The REST endpoints: POST start-workflow (the seed's API Gateway route)
 * and GET /executions/<name>.  Replies and errors are JSON.
 */


#include "ngx_http_sfn_module.h"
#include <sfn_task.h>


#define NGX_HTTP_SFN_MAX_BODY  (256 * 1024 + 4096)


static void ngx_http_sfn_start_body(ngx_http_request_t *r);


/*
 * Printed as the engine prints: an input or output that holds an escaped
 * NUL comes back as "\u0000", where cJSON would write the bytes C0 80
 */

ngx_int_t
ngx_http_sfn_send_json(ngx_http_request_t *r, ngx_uint_t status, cJSON *json)
{
    char       *text;
    size_t      len;
    ngx_buf_t  *b;

    text = sfn_json_print(json);
    cJSON_Delete(json);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);
    *b->last++ = LF;
    free(text);

    return ngx_http_sfn_send(r, status, "application/json", b);
}


/* a 405 names what the location takes, as RFC 9110 asks */

ngx_int_t
ngx_http_sfn_not_allowed(ngx_http_request_t *r, char *allow)
{
    if (ngx_http_sfn_header(r, "Allow", allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                   "MethodNotAllowed",
                                   "only %s is allowed here", allow);
}


ngx_int_t
ngx_http_sfn_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *fmt, ...)
{
    u_char    *p;
    cJSON     *json;
    va_list    args;
    ngx_int_t  rc;
    u_char     msg[NGX_MAX_ERROR_STR];

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    json = cJSON_CreateObject();
    if (json == NULL
        || cJSON_AddStringToObject(json, "error", type) == NULL
        || cJSON_AddStringToObject(json, "message", (char *) msg) == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_send_json(r, status, json);
}


typedef struct {
    ngx_http_request_t          *request;
    ngx_uint_t                   status;
    cJSON                       *reply;
} ngx_http_sfn_ack_t;


static void
ngx_http_sfn_ack_handler(void *data, void *res)
{
    ngx_http_sfn_ack_t *ack = data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ack->request;
    c = r->connection;

    if (res == NULL) {
        cJSON_Delete(ack->reply);
        rc = ngx_http_sfn_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     "ServiceUnavailable",
                                     "the execution was not recorded");

    } else {
        rc = ngx_http_sfn_send_json(r, ack->status, ack->reply);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/*
 * A Standard execution is acknowledged only once PostgreSQL has committed
 * its start: the reply waits for the statements queued before it.
 */

ngx_int_t
ngx_http_sfn_reply_durable(ngx_http_request_t *r, ngx_uint_t status,
    cJSON *reply)
{
    ngx_http_sfn_ack_t  *ack;

    ack = ngx_palloc(r->pool, sizeof(ngx_http_sfn_ack_t));
    if (ack == NULL) {
        cJSON_Delete(reply);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ack->request = r;
    ack->status = status;
    ack->reply = reply;

    r->main->count++;

    if (ngx_http_sfn_pg_query("SELECT 1", 0, NULL, ngx_http_sfn_ack_handler,
                              ack)
        == NGX_ERROR)
    {
        r->main->count--;
        cJSON_Delete(reply);
        return ngx_http_sfn_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "ServiceUnavailable",
                                       "the database queue is full");
    }

    return NGX_DONE;
}


ngx_int_t
ngx_http_sfn_start_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_sfn_not_allowed(r, "POST");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_sfn_start_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_sfn_start_execution(ngx_http_request_t *r)
{
    char                      *text;
    u_char                     id[NGX_UUID_LEN], ts[32];
    cJSON                     *body, *item, *reply;
    ngx_int_t                  rc;
    ngx_str_t                  raw, name, job, arn, in, bucket, key;
    ngx_http_sfn_machine_t    *sm;
    ngx_http_sfn_loc_conf_t   *slcf;
    ngx_http_sfn_main_conf_t  *smcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_sfn_module);
    smcf = ngx_http_get_module_main_conf(r, ngx_http_sfn_module);

    rc = ngx_http_sfn_body_text(r, NGX_HTTP_SFN_MAX_BODY, &raw);

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       "RequestTooLarge",
                                       "the request body is too large");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * the engine's codec: strict UTF-8, and an escaped NUL in a string
     * kept for the execution's input rather than ending the string
     */

    if (!sfn_utf8_valid((char *) raw.data, raw.len)) {
        return ngx_http_sfn_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "InvalidRequest",
                                       "the body is not UTF-8");
    }

    body = sfn_json_parse((char *) raw.data, raw.len);

    if (body == NULL || !cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return ngx_http_sfn_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "InvalidRequest",
                                       "the body must be a JSON object");
    }

    sm = slcf->start;

    if (sm == NULL) {
        item = cJSON_GetObjectItemCaseSensitive(body, "stateMachine");

        if (cJSON_IsString(item)) {
            name.data = (u_char *) item->valuestring;
            name.len = ngx_strlen(item->valuestring);

        } else if (ngx_http_sfn_location_tail(r, &name) != NGX_OK) {
            name.len = 0;
        }

        sm = ngx_http_sfn_machine_find(smcf, &name);

        /* a name holding an escaped NUL is not echoed: not UTF-8 */

        if (sm == NULL && !sfn_utf8_valid((char *) name.data, name.len)) {
            ngx_str_set(&name, "?");
        }

        if (sm == NULL) {

            /* the name may point into the body: freed only once printed */

            rc = ngx_http_sfn_send_error(r, NGX_HTTP_NOT_FOUND,
                                         "StateMachineDoesNotExist",
                                         "state machine \"%V\" does not "
                                         "exist", &name);
            cJSON_Delete(body);
            return rc;
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(body, "bucket");
    bucket.data = cJSON_IsString(item) ? (u_char *) item->valuestring : NULL;
    bucket.len = bucket.data ? ngx_strlen(bucket.data) : 0;

    item = cJSON_GetObjectItemCaseSensitive(body, "key");
    key.data = cJSON_IsString(item) ? (u_char *) item->valuestring : NULL;
    key.len = key.data ? ngx_strlen(key.data) : 0;

    if (bucket.data == NULL || key.data == NULL) {
        cJSON_Delete(body);
        return ngx_http_sfn_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "InvalidRequest",
                                       "Missing bucket or key parameter");
    }

    if (ngx_http_sfn_bucket_find(smcf, &bucket) == NULL) {

        if (!sfn_utf8_valid((char *) bucket.data, bucket.len)) {
            ngx_str_set(&bucket, "?");
        }

        /* bucket points into the body: freed only once printed */

        rc = ngx_http_sfn_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     "InvalidRequest",
                                     "unknown bucket \"%V\"", &bucket);
        cJSON_Delete(body);
        return rc;
    }

    if (!sfn_key_valid((char *) key.data, key.len)) {
        cJSON_Delete(body);
        return ngx_http_sfn_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "InvalidKey",
                                       "the key must be a relative path "
                                       "without \".\" or \"..\" segments");
    }

    /* the seed's trigger: {"jobId","bucket","key","requestedAt"} */

    job.data = id;
    job.len = ngx_http_sfn_uuid(id);

    ts[ngx_http_sfn_iso8601(ts, ngx_http_sfn_now_ms())] = '\0';

    cJSON_DeleteItemFromObjectCaseSensitive(body, "stateMachine");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "jobId");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "requestedAt");

    if (ngx_http_sfn_json_add_str(body, "jobId", &job) == NULL
        || cJSON_AddStringToObject(body, "requestedAt", (char *) ts) == NULL)
    {
        cJSON_Delete(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    text = sfn_json_print(body);

    if (text == NULL) {
        cJSON_Delete(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    in.data = (u_char *) text;
    in.len = ngx_strlen(text);

    rc = ngx_http_sfn_exec_start(smcf, sm, &job, &in, &job, &bucket, &key,
                                 NULL, NULL, NULL, &arn, r->pool);
    free(text);
    cJSON_Delete(body);

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_send_error(r, NGX_HTTP_CONFLICT,
                                       "ExecutionAlreadyExists",
                                       "execution \"%V\" already exists",
                                       &job);
    }

    if (rc == NGX_BUSY) {
        if (ngx_http_sfn_retry_after(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_sfn_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "ServiceUnavailable",
                                       "the database is behind: "
                                       "retry later");
    }

    if (rc != NGX_OK) {
        return ngx_http_sfn_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "InvalidExecutionInput",
                                       "the execution could not start");
    }

    reply = cJSON_CreateObject();

    if (reply == NULL
        || ngx_http_sfn_json_add_str(reply, "jobId", &job) == NULL
        || ngx_http_sfn_json_add_str(reply, "executionArn", &arn) == NULL
        || cJSON_AddStringToObject(reply, "message",
               "Video processing workflow started successfully") == NULL)
    {
        cJSON_Delete(reply);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (sm->type == SFN_STANDARD && smcf->database.len) {
        return ngx_http_sfn_reply_durable(r, NGX_HTTP_OK, reply);
    }

    return ngx_http_sfn_send_json(r, NGX_HTTP_OK, reply);
}


static void
ngx_http_sfn_start_body(ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, ngx_http_sfn_start_execution(r));
}


static cJSON *
ngx_http_sfn_json_value(ngx_str_t *text)
{
    cJSON  *v;

    if (text->data == NULL) {
        return cJSON_CreateNull();
    }

    v = sfn_json_parse((char *) text->data, text->len);

    return v ? v : cJSON_CreateNull();
}


cJSON *
ngx_http_sfn_record_json(ngx_http_sfn_record_t *rec)
{
    u_char  ts[32];
    cJSON  *json, *item;

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NULL;
    }

    if (ngx_http_sfn_json_add_str(json, "executionArn", &rec->arn) == NULL
        || ngx_http_sfn_json_add_str(json, "name", &rec->name) == NULL
        || ngx_http_sfn_json_add_str(json, "stateMachine", &rec->machine)
           == NULL
        || cJSON_AddStringToObject(json, "status",
                                   sfn_status_name(rec->status)) == NULL)
    {
        goto failed;
    }

    if (rec->state.len
        && ngx_http_sfn_json_add_str(json, "currentState", &rec->state)
           == NULL)
    {
        goto failed;
    }

    if (rec->status == SFN_RUNNING && rec->percent > 0) {
        item = cJSON_AddObjectToObject(json, "progress");

        if (item) {
            cJSON_AddNumberToObject(item, "percent",
                                    (double) (int64_t) (rec->percent * 10)
                                    / 10);
            cJSON_AddNumberToObject(item, "framesPerSecond",
                                    (double) (int64_t) (rec->fps * 10) / 10);
        }
    }

    cJSON_AddItemToObject(json, "input", ngx_http_sfn_json_value(&rec->input));
    cJSON_AddItemToObject(json, "output",
                          ngx_http_sfn_json_value(&rec->output));

    if (rec->error.data) {
        ngx_http_sfn_json_add_str(json, "error", &rec->error);

    } else {
        cJSON_AddNullToObject(json, "error");
    }

    if (rec->cause.data) {
        ngx_http_sfn_json_add_str(json, "cause", &rec->cause);

    } else {
        cJSON_AddNullToObject(json, "cause");
    }

    ts[ngx_http_sfn_iso8601(ts, rec->start_ms)] = '\0';
    cJSON_AddStringToObject(json, "startDate", (char *) ts);

    if (rec->stop_ms) {
        ts[ngx_http_sfn_iso8601(ts, rec->stop_ms)] = '\0';
        cJSON_AddStringToObject(json, "stopDate", (char *) ts);

    } else {
        cJSON_AddNullToObject(json, "stopDate");
    }

    return json;

failed:

    cJSON_Delete(json);

    return NULL;
}


ngx_int_t
ngx_http_sfn_api_handler(ngx_http_request_t *r)
{
    cJSON                     *json;
    ngx_int_t                  rc;
    ngx_str_t                  name, arn;
    ngx_uint_t                 i;
    ngx_http_sfn_record_t      rec;
    ngx_http_sfn_machine_t    *sm;
    ngx_http_sfn_main_conf_t  *smcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_sfn_not_allowed(r, "GET, HEAD");
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_sfn_module);

    if (ngx_http_sfn_location_tail(r, &name) != NGX_OK || name.len == 0) {
        return ngx_http_sfn_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "InvalidRequest",
                                       "an execution name is required");
    }

    /*
     * an execution ARN is the key; a bare name is unique per state machine
     * only, and the configured machines are tried in order
     */

    rc = NGX_DECLINED;

    if (ngx_strlchr(name.data, name.data + name.len, ':')) {
        rc = ngx_http_sfn_shm_get(smcf, &name, r->pool, &rec);

    } else {
        sm = smcf->machines.elts;

        for (i = 0; rc == NGX_DECLINED && i < smcf->machines.nelts; i++) {
            if (ngx_http_sfn_exec_arn(smcf, sm[i].type, &sm[i].name, &name,
                                      r->pool, &arn)
                == NULL)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            rc = ngx_http_sfn_shm_get(smcf, &arn, r->pool, &rec);
        }
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_send_error(r, NGX_HTTP_NOT_FOUND,
                                       "ExecutionDoesNotExist",
                                       "execution \"%V\" does not exist",
                                       &name);
    }

    json = ngx_http_sfn_record_json(&rec);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_send_json(r, NGX_HTTP_OK, json);
}
