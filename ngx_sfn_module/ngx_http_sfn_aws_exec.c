
/*
 * Copyright (C) ngx_sfn authors
 *
 * The AWS API's execution actions: StartExecution, StartSyncExecution,
 * DescribeExecution, ListExecutions, GetExecutionHistory, StopExecution
 * and the task callbacks SendTaskSuccess, SendTaskFailure and
 * SendTaskHeartbeat.
 */


#include "ngx_http_sfn_aws.h"
#include <sfn_task.h>


/* StartExecution, StartSyncExecution */

static ngx_int_t
ngx_http_sfn_aws_started(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *arn)
{
    cJSON  *json;

    json = cJSON_CreateObject();

    if (json == NULL
        || ngx_http_sfn_json_add_str(json, "executionArn", arn) == NULL
        || cJSON_AddNumberToObject(json, "startDate",
                                   ctx->start_ms / 1000.0) == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_committed(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    ngx_str_t  arn;

    arn.data = ngx_http_sfn_aws_exec_arn(ctx, &ctx->sm->name,
                                         &ctx->exec_name);
    if (arn.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    arn.len = ngx_strlen(arn.data);

    return ngx_http_sfn_aws_started(ctx, &arn);
}


static void
ngx_http_sfn_aws_add_seconds(cJSON *json, const char *name, int64_t ms)
{
    u_char  buf[NGX_INT64_LEN + 8];

    *ngx_sprintf(buf, "%L.%03L", ms / 1000, ms % 1000) = '\0';

    cJSON_AddRawToObject(json, name, (char *) buf);
}


static void
ngx_http_sfn_aws_add_int(cJSON *json, const char *name, int64_t n)
{
    u_char  buf[NGX_INT64_LEN + 2];

    *ngx_sprintf(buf, "%L", n) = '\0';

    cJSON_AddRawToObject(json, name, (char *) buf);
}


static ngx_int_t
ngx_http_sfn_aws_sync_reply(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_record_t *rec)
{
    cJSON   *json, *item;
    u_char  *arn;
    int64_t  stop;

    arn = ngx_http_sfn_aws_exec_arn(ctx, &ctx->sm->name, &ctx->exec_name);
    json = cJSON_CreateObject();

    if (arn == NULL || json == NULL) {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    stop = rec->stop_ms ? rec->stop_ms : ngx_http_sfn_now_ms();

    cJSON_AddStringToObject(json, "executionArn", (char *) arn);
    cJSON_AddStringToObject(json, "stateMachineArn",
                            (char *) ctx->sm->arn.data);
    ngx_http_sfn_json_add_str(json, "name", &ctx->exec_name);
    /* epoch seconds, printed without cJSON's printf-and-scanf round trip */

    ngx_http_sfn_aws_add_seconds(json, "startDate", ctx->start_ms);
    ngx_http_sfn_aws_add_seconds(json, "stopDate", stop);
    cJSON_AddStringToObject(json, "status", sfn_status_name(rec->status));

    if (rec->error.data) {
        ngx_http_sfn_json_add_str(json, "error", &rec->error);
    }

    if (rec->cause.data) {
        ngx_http_sfn_json_add_str(json, "cause", &rec->cause);
    }

    ngx_http_sfn_json_add_str(json, "input", &ctx->input);

    item = cJSON_AddObjectToObject(json, "inputDetails");
    cJSON_AddBoolToObject(item, "included", 1);

    if (rec->status == SFN_SUCCEEDED && rec->output.data) {
        ngx_http_sfn_json_add_str(json, "output", &rec->output);

        item = cJSON_AddObjectToObject(json, "outputDetails");
        cJSON_AddBoolToObject(item, "included", 1);
    }

    if (ctx->trace.data) {
        ngx_http_sfn_json_add_str(json, "traceHeader", &ctx->trace);
    }

    item = cJSON_AddObjectToObject(json, "billingDetails");
    cJSON_AddRawToObject(item, "billedMemoryUsedInMB", "64");
    /* AWS bills Express time in 100 ms steps, 100 ms at least */

    ngx_http_sfn_aws_add_int(item, "billedDurationInMilliseconds",
                             ngx_max(stop - ctx->start_ms + 99, 100)
                             / 100 * 100);

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static void
ngx_http_sfn_aws_sync_done(void *data, ngx_http_sfn_record_t *rec)
{
    ngx_http_sfn_aws_ctx_t *ctx = data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->r;
    c = r->connection;

    ctx->waiting = 0;

    ngx_http_finalize_request(r, ngx_http_sfn_aws_sync_reply(ctx, rec));
    ngx_http_run_posted_requests(c);
}


/* the worker's queue for PostgreSQL is past its mark: come back later */

static ngx_int_t
ngx_http_sfn_aws_busy(ngx_http_sfn_aws_ctx_t *ctx)
{
    if (ngx_http_sfn_retry_after(ctx->r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_reply_error(ctx, "ServiceUnavailable",
                                        "Too many writes waiting for the "
                                        "database: retry later");
}


/*
 * AWS: a start with the name and the input of a running execution is a
 * retry, answered as the first start was; NGX_DECLINED when it is not one
 */

static ngx_int_t
ngx_http_sfn_aws_start_retry(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *key,
    ngx_int_t *rc)
{
    cJSON                  *json;
    ngx_http_sfn_record_t   rec;

    if (ctx->sync || !ctx->named
        || ngx_http_sfn_shm_get(ctx->smcf, key, ctx->r->pool, &rec) != NGX_OK
        || rec.status != SFN_RUNNING
        || rec.input.len != ctx->input.len
        || ngx_strncmp(rec.input.data, ctx->input.data, rec.input.len) != 0)
    {
        return NGX_DECLINED;
    }

    json = cJSON_CreateObject();

    if (json == NULL
        || cJSON_AddStringToObject(json, "executionArn", (char *) key->data)
           == NULL
        || cJSON_AddNumberToObject(json, "startDate", rec.start_ms / 1000.0)
           == NULL)
    {
        cJSON_Delete(json);
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_OK;
    }

    *rc = ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_aws_run(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t              rc;
    ngx_str_t              arn;
    ngx_http_sfn_record_t  rec;

    ctx->start_ms = ngx_http_sfn_now_ms();

    if (ctx->sync) {
        rc = ngx_http_sfn_exec_start_sync(ctx->smcf, ctx->sm, &ctx->exec_name,
                                          &ctx->input,
                                          ctx->alias.data ? &ctx->alias
                                                          : NULL,
                                          ctx->mock, &arn, ctx->r->pool);

    } else {
        rc = ngx_http_sfn_exec_start(ctx->smcf, ctx->sm, &ctx->exec_name,
                                     &ctx->input, NULL, NULL, NULL,
                                     ctx->trace.data ? &ctx->trace : NULL,
                                     ctx->alias.data ? &ctx->alias : NULL,
                                     ctx->mock, &arn, ctx->r->pool);
    }

    /*
     * a twin request started it while this one asked the database: the
     * same input is a retry all the same
     */

    if (rc == NGX_DECLINED
        && ngx_http_sfn_aws_start_retry(ctx, &ctx->exec_arn, &rc) == NGX_OK)
    {
        return rc;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionAlreadyExists",
                                            "Execution Already Exists: "
                                            "'%s'",
                                            ngx_http_sfn_aws_exec_arn(ctx,
                                                &ctx->sm->name,
                                                &ctx->exec_name));
    }

    if (rc == NGX_BUSY) {
        return ngx_http_sfn_aws_busy(ctx);
    }

    if (rc != NGX_OK) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidExecutionInput",
                                            "Invalid State Machine "
                                            "Execution Input: 'the "
                                            "execution could not start'");
    }

    if (!ctx->sync && ctx->sm->type == SFN_STANDARD
        && ctx->smcf->database.len)
    {
        /*
         * acknowledged once PostgreSQL has committed the start: this
         * statement's batch follows the start's in the worker's queue
         */

        return ngx_http_sfn_aws_query(ctx, "SELECT 1", 0, NULL,
                                      ngx_http_sfn_aws_committed);
    }

    if (!ctx->sync) {
        return ngx_http_sfn_aws_started(ctx, &arn);
    }

    ctx->exec_arn = arn;

    if (ngx_http_sfn_exec_on_finish(&arn, ngx_http_sfn_aws_sync_done, ctx)
        == NGX_OK)
    {
        ctx->waiting = 1;
        return NGX_DONE;
    }

    /* it finished inside ngx_http_sfn_exec_start() */

    if (ngx_http_sfn_exec_result(ctx->smcf, &arn, ctx->r->pool, &rec)
        != NGX_OK)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the execution record is lost");
    }

    return ngx_http_sfn_aws_sync_reply(ctx, &rec);
}


static ngx_int_t
ngx_http_sfn_aws_start_checked(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    if (res && PQntuples(res)) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionAlreadyExists",
                                            "Execution Already Exists: "
                                            "'%s'", PQgetvalue(res, 0, 0));
    }

    return ngx_http_sfn_aws_run(ctx);
}


static ngx_int_t
ngx_http_sfn_aws_start_found(ngx_http_sfn_aws_ctx_t *ctx)
{
    u_char                *arn, err[1024];
    ngx_int_t              rc;
    ngx_str_t             *key;
    const char            *values[1];
    ngx_http_sfn_record_t  rec;

    if (ctx->sync && ctx->sm->type != SFN_EXPRESS) {
        return ngx_http_sfn_aws_reply_error(ctx,
                   "StateMachineTypeNotSupported",
                   "This operation is not supported by this type of state "
                   "machine");
    }

    ctx->exec_type = ctx->sm->type;

    if (ctx->test_case.data) {
        ctx->mock = ngx_http_sfn_mock_select(ctx->smcf, ctx->sm,
                                             &ctx->test_case, err,
                                             sizeof(err));
        if (ctx->mock == NULL) {
            return ngx_http_sfn_aws_reply_error(ctx, "InvalidArn",
                                                "Invalid Arn: '%V#%V': %s",
                                                &ctx->arn, &ctx->test_case,
                                                err);
        }
    }

    key = ngx_http_sfn_aws_exec_key(ctx, &ctx->sm->name);
    if (key == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    arn = key->data;

    /* a name of our own making is new: no execution has it */

    if (ngx_http_sfn_aws_start_retry(ctx, key, &rc) == NGX_OK) {
        return rc;
    }

    if (ctx->named
        && ngx_http_sfn_shm_get(ctx->smcf, key, ctx->r->pool, &rec) == NGX_OK)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionAlreadyExists",
                                            "Execution Already Exists: "
                                            "'%s'", arn);
    }

    /* backpressure: refused before anything is asked of the database */

    if (ctx->sm->type == SFN_STANDARD && ctx->smcf->database.len
        && ngx_http_sfn_pg_busy() == NGX_BUSY)
    {
        return ngx_http_sfn_aws_busy(ctx);
    }

    if (ctx->sm->type == SFN_EXPRESS || !ctx->named) {
        return ngx_http_sfn_aws_run(ctx);
    }

    /* finished Standard executions may have left the zone, not the table */

    values[0] = (char *) arn;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT arn FROM sfn_executions WHERE arn = $1",
               1, values, ngx_http_sfn_aws_start_checked);
}


ngx_int_t
ngx_http_sfn_aws_start(ngx_http_sfn_aws_ctx_t *ctx)
{
    cJSON     *in;
    u_char    *p;
    ngx_str_t  name, arn, whole;

    ctx->qualify = 1;

    if (ngx_http_sfn_aws_field(ctx, "stateMachineArn", 1, &arn) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    /*
     * Step Functions Local's "#TestCase": a test case of sfn_mock_config,
     * within the model's length of the ARN
     */

    whole = arn;

    if (ngx_http_sfn_mock_split(&arn, &ctx->test_case) == NGX_OK
        && ngx_http_sfn_aws_length(ctx, "stateMachineArn", &whole, 256)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ngx_http_sfn_aws_sm_named(ctx, &arn) != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "name", 0, &name) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "input", 0, &ctx->input)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "input", &ctx->input,
                                   SFN_MAX_PAYLOAD) != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "traceHeader", 0, &ctx->trace)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "traceHeader", &ctx->trace, 256)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    /* the model's pattern for traceHeader: \p{ASCII}*; "" is none */

    if (ctx->trace.len == 0) {
        ngx_str_null(&ctx->trace);
    }

    for (p = ctx->trace.data; p && p < ctx->trace.data + ctx->trace.len;
         p++)
    {
        if (*p >= 0x80) {
            return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                       "1 validation error detected: Value at 'traceHeader' "
                       "failed to satisfy constraint: Member must satisfy "
                       "regular expression pattern: \\p{ASCII}*");
        }
    }

    if (name.data == NULL) {
        p = ngx_pnalloc(ctx->r->pool, NGX_UUID_LEN + 1);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        name.data = p;
        name.len = ngx_http_sfn_uuid(p);
        p[name.len] = '\0';

    } else if (!ngx_http_sfn_aws_name_valid(&name)) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidName",
                                            "Invalid Name: '%V'", &name);

    } else {
        ctx->named = 1;
    }

    ctx->exec_name = name;

    if (ctx->input.data == NULL) {
        ngx_str_set(&ctx->input, "{}");
    }

    /* strict: text after the value is not JSON, as the engine reads it */

    in = sfn_json_parse((char *) ctx->input.data, ctx->input.len);

    if (in == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidExecutionInput",
                                            "Invalid State Machine Execution "
                                            "Input: 'the input is not valid "
                                            "JSON'");
    }

    cJSON_Delete(in);

    return ngx_http_sfn_aws_machine(ctx, ngx_http_sfn_aws_start_found);
}


ngx_int_t
ngx_http_sfn_aws_start_sync(ngx_http_sfn_aws_ctx_t *ctx)
{
    ctx->sync = 1;

    return ngx_http_sfn_aws_start(ctx);
}


/*
 * DescribeExecution: from the record in the shared zone (an execution of
 * this node that is running or finished lately), else from its row.  Both
 * go through one reply, dates in milliseconds as the zone keeps them, so
 * an execution is described byte for byte the same either way.  The row
 * is read on the reader, behind no commit: a write of this node still on
 * its way is one of an execution the zone holds (running ones never leave
 * it, finished ones leave it oldest first).
 */

static ngx_http_sfn_pg_prepared_t  ngx_http_sfn_aws_describe_sql = {
    "sfn_describe_execution",
    "SELECT status, input, output, error, cause, trace_header, "
    "(extract(epoch FROM start_date) * 1000)::bigint, "
    "(extract(epoch FROM stop_date) * 1000)::bigint, "
    "version_arn, alias_arn, redrive_count, "
    "(extract(epoch FROM redrive_date) * 1000)::bigint "
    "FROM sfn_executions WHERE arn = $1",
    0
};


static ngx_int_t
ngx_http_sfn_aws_exec_reply(ngx_http_sfn_aws_ctx_t *ctx, const char *status,
    ngx_http_sfn_record_t *rec)
{
    cJSON      *json, *item;
    u_char     *arn, *smarn, *p;
    ngx_str_t   map_run;

    arn = ngx_http_sfn_aws_exec_arn(ctx, &ctx->sm_name, &ctx->exec_name);
    smarn = ngx_http_sfn_aws_sm_arn(ctx, &ctx->sm_name);
    json = cJSON_CreateObject();

    if (arn == NULL || smarn == NULL || json == NULL) {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddStringToObject(json, "executionArn", (char *) arn);
    cJSON_AddStringToObject(json, "stateMachineArn", (char *) smarn);
    cJSON_AddStringToObject(json, "name", (char *) ctx->exec_name.data);
    cJSON_AddStringToObject(json, "status", status);
    cJSON_AddNumberToObject(json, "startDate", rec->start_ms / 1000.0);

    if (ngx_strcmp(status, "RUNNING") != 0) {
        cJSON_AddNumberToObject(json, "stopDate", rec->stop_ms / 1000.0);
    }

    /* the strings of both sources end with a NUL */

    if (rec->input.data) {
        cJSON_AddStringToObject(json, "input", (char *) rec->input.data);
        item = cJSON_AddObjectToObject(json, "inputDetails");
        cJSON_AddBoolToObject(item, "included", 1);
    }

    if (rec->output.data && ngx_strcmp(status, "SUCCEEDED") == 0) {
        cJSON_AddStringToObject(json, "output", (char *) rec->output.data);
        item = cJSON_AddObjectToObject(json, "outputDetails");
        cJSON_AddBoolToObject(item, "included", 1);
    }

    /*
     * an error or a cause of the engine's may hold a NUL (C0 80): it is
     * told as its row keeps it, U+FFFD, and as valid UTF-8
     */

    if (rec->error.data) {
        p = ngx_http_sfn_pg_text(ctx->r->pool, &rec->error);
        cJSON_AddStringToObject(json, "error", p ? (char *) p : "");
    }

    if (rec->cause.data) {
        p = ngx_http_sfn_pg_text(ctx->r->pool, &rec->cause);
        cJSON_AddStringToObject(json, "cause", p ? (char *) p : "");
    }

    if (rec->trace.data) {
        cJSON_AddStringToObject(json, "traceHeader",
                                (char *) rec->trace.data);
    }

    if (rec->version.len) {
        ngx_http_sfn_json_add_str(json, "stateMachineVersionArn",
                                  &rec->version);
    }

    if (rec->alias.len) {
        ngx_http_sfn_json_add_str(json, "stateMachineAliasArn", &rec->alias);
    }

    switch (ngx_http_sfn_aws_map_run_of(ctx, &map_run, NULL)) {

    case NGX_OK:
        ngx_http_sfn_json_add_str(json, "mapRunArn", &map_run);
        break;

    case NGX_ERROR:
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_sfn_aws_redrive_fields(json, ctx->exec_type, status,
                                        rec->stop_ms / 1000.0,
                                        rec->redrive_count,
                                        rec->redrive_ms / 1000.0)
        != NGX_OK)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static void
ngx_http_sfn_aws_exec_value(PGresult *res, int col, ngx_str_t *s)
{
    if (PQgetisnull(res, 0, col)) {
        ngx_str_null(s);
        return;
    }

    s->data = (u_char *) PQgetvalue(res, 0, col);
    s->len = PQgetlength(res, 0, col);
}


static ngx_int_t
ngx_http_sfn_aws_exec_row(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    ngx_http_sfn_record_t  rec;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionDoesNotExist",
                                            "Execution Does Not Exist: '%V'",
                                            &ctx->arn);
    }

    ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));

    ngx_http_sfn_aws_exec_value(res, 1, &rec.input);
    ngx_http_sfn_aws_exec_value(res, 2, &rec.output);
    ngx_http_sfn_aws_exec_value(res, 3, &rec.error);
    ngx_http_sfn_aws_exec_value(res, 4, &rec.cause);
    ngx_http_sfn_aws_exec_value(res, 5, &rec.trace);

    rec.start_ms = ngx_atoof((u_char *) PQgetvalue(res, 0, 6),
                             PQgetlength(res, 0, 6));
    rec.stop_ms = PQgetisnull(res, 0, 7)
                  ? 0 : ngx_atoof((u_char *) PQgetvalue(res, 0, 7),
                                  PQgetlength(res, 0, 7));

    ngx_http_sfn_aws_exec_value(res, 8, &rec.version);
    ngx_http_sfn_aws_exec_value(res, 9, &rec.alias);

    rec.redrive_count = ngx_atoi((u_char *) PQgetvalue(res, 0, 10),
                                 PQgetlength(res, 0, 10));
    rec.redrive_ms = PQgetisnull(res, 0, 11)
                     ? 0 : ngx_atoof((u_char *) PQgetvalue(res, 0, 11),
                                     PQgetlength(res, 0, 11));

    return ngx_http_sfn_aws_exec_reply(ctx, PQgetvalue(res, 0, 0), &rec);
}


/* the record of the execution in the shared zone, if it is this one */

static ngx_int_t
ngx_http_sfn_aws_shm_record(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_record_t *rec)
{
    ngx_str_t  *key;

    key = ngx_http_sfn_aws_exec_key(ctx, &ctx->sm_name);

    if (key == NULL
        || ngx_http_sfn_shm_get(ctx->smcf, key, ctx->r->pool, rec) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_sfn_aws_describe_exec(ngx_http_sfn_aws_ctx_t *ctx)
{
    u_char                 *arn;
    const char             *values[1];
    ngx_http_sfn_record_t   rec;

    if (ngx_http_sfn_aws_exec_field(ctx) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ngx_http_sfn_aws_shm_record(ctx, &rec) == NGX_OK) {
        return ngx_http_sfn_aws_exec_reply(ctx, sfn_status_name(rec.status),
                                           &rec);
    }

    arn = ngx_http_sfn_aws_exec_arn(ctx, &ctx->sm_name, &ctx->exec_name);
    if (arn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = (char *) arn;

    return ngx_http_sfn_aws_read(ctx, &ngx_http_sfn_aws_describe_sql, 1,
                                 values, ngx_http_sfn_aws_exec_row);
}


/*
 * ListExecutions: newest first, by start date and then name, as on AWS.
 * The cursor is the last row's start date (microseconds, 8 bytes big
 * endian) and name; the next page is what sorts after it, so executions
 * that start meanwhile come before the cursor and shift nothing, and an
 * execution that changes status keeps its place (it leaves or enters a
 * filtered list ahead of the cursor only).  sql/006 has the index.
 */

#define NGX_HTTP_SFN_AWS_LIST_EXECS  'E'

static const char  ngx_http_sfn_aws_statuses[] =
    "{RUNNING,SUCCEEDED,FAILED,TIMED_OUT,ABORTED}";


/*
 * The page is sfn_executions_list() (sql/020): one range of
 * sfn_executions_page per status asked for ($2), read backwards from the
 * cursor and merged (a Merge Append that reads about a page in all), on
 * a plan made once per session whatever the size of the table; then the
 * machine.  A status not asked for is a one-time filter of that plan; a
 * version or alias ARN ($6) and a redriveFilter ($7) are filters of each
 * range.
 */

static ngx_http_sfn_pg_prepared_t  ngx_http_sfn_aws_list_execs_sql = {
    "sfn_list_executions",
    "SELECT m.type, e.arn, e.name, e.status, "
    "extract(epoch FROM e.start_date), extract(epoch FROM e.stop_date), "
    "m.source, (extract(epoch FROM e.start_date) * 1000000)::bigint, "
    "e.version_arn, e.alias_arn, e.redrive_count, "
    "extract(epoch FROM e.redrive_date) "
    "FROM sfn_executions_list($1, $2::text[], $3::bigint, $4::text, "
    "$5::bigint, $6::text, $7::text) e "
    "JOIN sfn_state_machines m ON m.name = $1 "
    "ORDER BY e.start_date DESC, e.name DESC",
    0
};


static ngx_int_t
ngx_http_sfn_aws_listed_execs(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    int                      i, n;
    cJSON                   *json, *list, *item;
    u_char                  *smarn, *p, *cursor;
    size_t                   len;
    uint64_t                 us;
    ngx_uint_t               k;
    ngx_http_sfn_machine_t  *sm;

    sm = ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name);

    if (res == NULL || PQntuples(res) == 0) {
        if (sm == NULL) {
            return ngx_http_sfn_aws_reply_error(ctx,
                                                "StateMachineDoesNotExist",
                                                "State Machine Does Not "
                                                "Exist: '%V'", &ctx->arn);
        }

    } else if (sm == NULL && ngx_strcmp(PQgetvalue(res, 0, 6), "api") != 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    if ((sm && sm->type == SFN_EXPRESS)
        || (res && PQntuples(res)
            && ngx_strcmp(PQgetvalue(res, 0, 0), "EXPRESS") == 0))
    {
        return ngx_http_sfn_aws_reply_error(ctx,
                   "StateMachineTypeNotSupported",
                   "This operation is not supported by this type of state "
                   "machine");
    }

    smarn = ngx_http_sfn_aws_sm_arn(ctx, &ctx->sm_name);
    json = ngx_http_sfn_aws_list_reply("executions", &list);

    if (smarn == NULL || json == NULL) {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = res ? PQntuples(res) : 0;

    for (i = 0; i < n && i < ctx->limit; i++) {
        if (PQgetisnull(res, i, 1)) {
            break;
        }

        item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "executionArn", PQgetvalue(res, i, 1));
        cJSON_AddStringToObject(item, "stateMachineArn", (char *) smarn);
        cJSON_AddStringToObject(item, "name", PQgetvalue(res, i, 2));
        cJSON_AddStringToObject(item, "status", PQgetvalue(res, i, 3));
        cJSON_AddNumberToObject(item, "startDate",
                                ngx_http_sfn_aws_epoch(res, i, 4));

        if (!PQgetisnull(res, i, 5)) {
            cJSON_AddNumberToObject(item, "stopDate",
                                    ngx_http_sfn_aws_epoch(res, i, 5));
        }

        if (!PQgetisnull(res, i, 8)) {
            cJSON_AddStringToObject(item, "stateMachineVersionArn",
                                    PQgetvalue(res, i, 8));
        }

        if (!PQgetisnull(res, i, 9)) {
            cJSON_AddStringToObject(item, "stateMachineAliasArn",
                                    PQgetvalue(res, i, 9));
        }

        if (!PQgetisnull(res, i, 11)) {
            cJSON_AddRawToObject(item, "redriveCount", PQgetvalue(res, i, 10));
            cJSON_AddNumberToObject(item, "redriveDate",
                                    ngx_http_sfn_aws_epoch(res, i, 11));
        }
    }

    if (n > ctx->limit && !PQgetisnull(res, ctx->limit, 1)) {
        i = ctx->limit - 1;
        len = PQgetlength(res, i, 2);

        cursor = ngx_pnalloc(ctx->r->pool, 8 + len);
        if (cursor == NULL) {
            cJSON_Delete(json);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        us = (uint64_t) ngx_atoof((u_char *) PQgetvalue(res, i, 7),
                                  PQgetlength(res, i, 7));
        p = cursor;

        for (k = 0; k < 8; k++) {
            *p++ = (u_char) (us >> (56 - 8 * k));
        }

        ngx_memcpy(p, PQgetvalue(res, i, 2), len);

        if (ngx_http_sfn_aws_next_token(ctx, json,
                                        NGX_HTTP_SFN_AWS_LIST_EXECS,
                                        &ctx->bind, cursor, 8 + len)
            != NGX_OK)
        {
            cJSON_Delete(json);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


/*
 * An empty page says nothing of the machine: one of nginx.conf is known
 * here, another is asked for in the shape of a page without executions
 */

static ngx_int_t
ngx_http_sfn_aws_listed_page(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    const char  *values[1];

    if (res == NULL || PQntuples(res) > 0
        || ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name))
    {
        return ngx_http_sfn_aws_listed_execs(ctx, res);
    }

    values[0] = (char *) ctx->sm_name.data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT type, NULL, NULL, NULL, NULL, NULL, source, NULL "
               "FROM sfn_state_machines WHERE name = $1",
               1, values, ngx_http_sfn_aws_listed_execs);
}


ngx_int_t
ngx_http_sfn_aws_list_execs(ngx_http_sfn_aws_ctx_t *ctx)
{
    u_char      *p;
    uint64_t     us;
    ngx_str_t    status, name, redrive;
    ngx_uint_t   k;
    const char  *values[7];
    u_char       lim[NGX_INT_T_LEN + 1], start[NGX_INT64_LEN + 1];

    if (cJSON_GetObjectItemCaseSensitive(ctx->body, "mapRunArn")) {
        return ngx_http_sfn_aws_list_map_run_execs(ctx);
    }

    /* a version's or an alias's ARN lists the executions they started */

    ctx->qualify = 1;

    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "statusFilter", 0, &status)
           == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "redriveFilter", 0, &redrive)
           == NGX_ERROR)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (redrive.data
        && ngx_strcmp(redrive.data, "REDRIVEN") != 0
        && ngx_strcmp(redrive.data, "NOT_REDRIVEN") != 0)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "1 validation error detected: Value '%V' at "
                   "'redriveFilter' failed to satisfy constraint: Member "
                   "must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]",
                   &redrive);
    }

    if (status.data
        && ngx_strcmp(status.data, "RUNNING") != 0
        && ngx_strcmp(status.data, "SUCCEEDED") != 0
        && ngx_strcmp(status.data, "FAILED") != 0
        && ngx_strcmp(status.data, "TIMED_OUT") != 0
        && ngx_strcmp(status.data, "ABORTED") != 0
        && ngx_strcmp(status.data, "PENDING_REDRIVE") != 0)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "1 validation error detected: Value '%V' at "
                   "'statusFilter' failed to satisfy constraint: Member "
                   "must satisfy enum value set: [RUNNING, SUCCEEDED, "
                   "FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]", &status);
    }

    /* a token is for one machine (version, alias) and its filters */

    ctx->bind.len = ctx->sm_name.len + 1 + status.len;

    if (redrive.data) {
        ctx->bind.len += 1 + redrive.len;
    }

    if (ctx->qualifier.data) {
        ctx->bind.len += 1 + ctx->qualifier.len;
    }

    ctx->bind.data = ngx_pnalloc(ctx->r->pool, ctx->bind.len);
    if (ctx->bind.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(ctx->bind.data, ctx->sm_name.data, ctx->sm_name.len);
    *p++ = '\0';

    if (status.data) {
        p = ngx_cpymem(p, status.data, status.len);
    }

    if (redrive.data) {
        *p++ = '\0';
        p = ngx_cpymem(p, redrive.data, redrive.len);
    }

    if (ctx->qualifier.data) {
        *p++ = ':';
        ngx_memcpy(p, ctx->qualifier.data, ctx->qualifier.len);
    }

    if (ngx_http_sfn_aws_page(ctx, 100, NGX_HTTP_SFN_AWS_LIST_EXECS,
                              &ctx->bind)
        != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    values[2] = NULL;
    values[3] = NULL;

    if (ctx->cursor.data) {
        p = ctx->cursor.data;
        us = 0;

        for (k = 0; ctx->cursor.len > 8 && k < 8; k++) {
            us = (us << 8) | *p++;
        }

        /* before the year 10000, as PostgreSQL's timestamps */

        if (ctx->cursor.len <= 8 || us > 253402300799999999ULL
            || ngx_http_sfn_aws_cursor_name(ctx, p, ctx->cursor.len - 8,
                                            &name)
               != NGX_OK)
        {
            return ngx_http_sfn_aws_reply_error(ctx, "InvalidToken",
                                                "Invalid Token: 'the token "
                                                "is not one of this "
                                                "request'");
        }

        *ngx_sprintf(start, "%uL", us) = '\0';

        values[2] = (char *) start;
        values[3] = (char *) name.data;
    }

    *ngx_sprintf(lim, "%i", ctx->limit + 1) = '\0';

    values[0] = (char *) ctx->sm_name.data;
    values[4] = (char *) lim;
    values[5] = NULL;
    values[6] = (char *) redrive.data;

    if (ctx->qualifier.data) {
        values[5] = (char *) ngx_http_sfn_aws_cstr(ctx->r->pool,
                                                   ctx->arn.data,
                                                   ctx->arn.len);
        if (values[5] == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (status.data) {
        p = ngx_pnalloc(ctx->r->pool, status.len + 3);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *ngx_sprintf(p, "{%V}", &status) = '\0';
        values[1] = (char *) p;

    } else {
        values[1] = ngx_http_sfn_aws_statuses;
    }

    return ngx_http_sfn_aws_prepared(ctx, &ngx_http_sfn_aws_list_execs_sql,
                                     7, values, ngx_http_sfn_aws_listed_page);
}


/*
 * GetExecutionHistory: by event id, up or down; the cursor is the last
 * id given (8 bytes big endian).  A finished execution's history may be
 * packed in its row (sql/006): the page is read from either form.
 */

#define NGX_HTTP_SFN_AWS_HISTORY  'H'


/*
 * A page of rows is a range of the history's primary key from the cursor;
 * a packed history (at most sfn_history_packed_max() events) is decoded
 * and its page taken; what is sorted is a page or a packed history, never
 * the whole of a long one.  The rows are in the partition of their
 * execution's start date, or in "old" with the start date -infinity if
 * written before sql/018: the others are pruned as the execution is found.
 */

#define ngx_http_sfn_aws_history_sql(cmp, order)                             \
    "SELECT h.id, h.previous_id, h.type, extract(epoch FROM h.ts), "        \
    "sfn_history_details(e.arn, h.details, $4)::text "                      \
    "FROM sfn_executions e LEFT JOIN LATERAL ("                             \
    "SELECT * FROM ("                                                       \
    "(SELECT x.id, x.previous_id, x.type, x.ts, x.details "                 \
    "FROM sfn_history x WHERE x.execution_arn = e.arn "                     \
    "AND x.start_date IN (e.start_date, '-infinity') "                      \
    "AND e.history IS NULL AND x.id " cmp " $3::bigint "                    \
    "ORDER BY x.id " order " LIMIT $2::bigint) "                            \
    "UNION ALL (SELECT * FROM sfn_history_unpack(e.history) u "             \
    "WHERE u.id " cmp " $3::bigint ORDER BY u.id " order                    \
    " LIMIT $2::bigint)) y ORDER BY y.id " order " LIMIT $2::bigint) h "    \
    "ON true WHERE e.arn = $1 ORDER BY h.id " order

static ngx_http_sfn_pg_prepared_t  ngx_http_sfn_aws_history_up = {
    "sfn_history_up", ngx_http_sfn_aws_history_sql(">", "ASC"), 0
};

static ngx_http_sfn_pg_prepared_t  ngx_http_sfn_aws_history_down = {
    "sfn_history_down", ngx_http_sfn_aws_history_sql("<", "DESC"), 0
};


static ngx_int_t
ngx_http_sfn_aws_history_rows(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    int                     i, n;
    cJSON                  *json, *list, *ev, *details, *d;
    u_char                 *p, cursor[8];
    uint64_t                id;
    ngx_uint_t              k;
    ngx_http_sfn_record_t   rec;

    if (res == NULL || PQntuples(res) == 0) {
        if (ngx_http_sfn_aws_shm_record(ctx, &rec) != NGX_OK) {
            return ngx_http_sfn_aws_reply_error(ctx, "ExecutionDoesNotExist",
                                                "Execution Does Not Exist: "
                                                "'%V'", &ctx->arn);
        }

        /* Express, or not yet committed: no durable history */
    }

    json = ngx_http_sfn_aws_list_reply("events", &list);

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = res ? PQntuples(res) : 0;

    for (i = 0; i < n && i < ctx->limit; i++) {
        if (PQgetisnull(res, i, 0)) {
            break;
        }

        ev = cJSON_CreateObject();
        cJSON_AddItemToArray(list, ev);

        cJSON_AddNumberToObject(ev, "timestamp",
                                ngx_http_sfn_aws_epoch(res, i, 3));
        cJSON_AddStringToObject(ev, "type", PQgetvalue(res, i, 2));
        cJSON_AddNumberToObject(ev, "id",
                                strtod(PQgetvalue(res, i, 0), NULL));
        cJSON_AddNumberToObject(ev, "previousEventId",
                                strtod(PQgetvalue(res, i, 1), NULL));

        if (PQgetisnull(res, i, 4)) {
            continue;
        }

        /* stored as {"<type>EventDetails": {...}}: its member goes in */

        details = cJSON_ParseWithLength(PQgetvalue(res, i, 4),
                                        PQgetlength(res, i, 4));

        while (details && details->child) {
            d = cJSON_DetachItemViaPointer(details, details->child);
            cJSON_AddItemToObject(ev, d->string, d);
        }

        cJSON_Delete(details);
    }

    if (n > ctx->limit && !PQgetisnull(res, ctx->limit, 0)) {
        id = (uint64_t) ngx_atoof((u_char *) PQgetvalue(res, ctx->limit - 1,
                                                        0),
                                  PQgetlength(res, ctx->limit - 1, 0));
        p = cursor;

        for (k = 0; k < 8; k++) {
            *p++ = (u_char) (id >> (56 - 8 * k));
        }

        if (ngx_http_sfn_aws_next_token(ctx, json, NGX_HTTP_SFN_AWS_HISTORY,
                                        &ctx->bind, cursor, 8)
            != NGX_OK)
        {
            cJSON_Delete(json);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_history(ngx_http_sfn_aws_ctx_t *ctx)
{
    cJSON       *reverse, *data;
    u_char      *arn, *p;
    uint64_t     id;
    ngx_uint_t   k, down;
    const char  *values[4];
    u_char       lim[NGX_INT_T_LEN + 1], after[NGX_INT64_LEN + 1];

    if (ngx_http_sfn_aws_exec_field(ctx) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    reverse = cJSON_GetObjectItemCaseSensitive(ctx->body, "reverseOrder");
    data = cJSON_GetObjectItemCaseSensitive(ctx->body,
                                            "includeExecutionData");

    down = cJSON_IsTrue(reverse);

    arn = ngx_http_sfn_aws_exec_arn(ctx, &ctx->sm_name, &ctx->exec_name);
    if (arn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a token is for one execution and one order */

    ctx->bind.len = ngx_strlen(arn) + 2;
    ctx->bind.data = ngx_pnalloc(ctx->r->pool, ctx->bind.len);
    if (ctx->bind.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(ctx->bind.data, arn, ctx->bind.len - 2);
    *p++ = '\0';
    *p = down ? 'D' : 'U';

    if (ngx_http_sfn_aws_page(ctx, 100, NGX_HTTP_SFN_AWS_HISTORY, &ctx->bind)
        != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    id = down ? (uint64_t) INT64_MAX : 0;

    if (ctx->cursor.data) {
        if (ctx->cursor.len != 8) {
            return ngx_http_sfn_aws_reply_error(ctx, "InvalidToken",
                                                "Invalid Token: 'the token "
                                                "is not one of this "
                                                "request'");
        }

        p = ctx->cursor.data;
        id = 0;

        for (k = 0; k < 8; k++) {
            id = (id << 8) | *p++;
        }

        if (id > (uint64_t) INT64_MAX) {
            return ngx_http_sfn_aws_reply_error(ctx, "InvalidToken",
                                                "Invalid Token: 'the token "
                                                "is not one of this "
                                                "request'");
        }
    }

    *ngx_sprintf(lim, "%i", ctx->limit + 1) = '\0';
    *ngx_sprintf(after, "%uL", id) = '\0';

    values[0] = (char *) arn;
    values[1] = (char *) lim;
    values[2] = (char *) after;

    /* large strings are resolved in PostgreSQL (sql/005), if asked for */
    values[3] = cJSON_IsFalse(data) ? "false" : "true";

    return ngx_http_sfn_aws_prepared(ctx,
                                     down ? &ngx_http_sfn_aws_history_down
                                          : &ngx_http_sfn_aws_history_up,
                                     4, values,
                                     ngx_http_sfn_aws_history_rows);
}


/* StopExecution */

static ngx_int_t
ngx_http_sfn_aws_stop_row(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON  *json;
    double  stop;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionDoesNotExist",
                                            "Execution Does Not Exist: '%V'",
                                            &ctx->arn);
    }

    /* a running one: its owner, wherever it is, has the mail */

    stop = ngx_http_sfn_aws_epoch(res, 0, 0);

    if (stop <= 0) {
        ngx_log_error(NGX_LOG_INFO, ctx->r->connection->log, 0,
                      "sfn aws api: execution \"%V\" stopped through "
                      "PostgreSQL", &ctx->exec_name);
    }

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddNumberToObject(json, "stopDate",
                            stop > 0 ? stop : ngx_http_sfn_now_ms() / 1000.0);

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_stop(ngx_http_sfn_aws_ctx_t *ctx)
{
    cJSON                 *json;
    u_char                *arn;
    ngx_int_t              rc;
    ngx_str_t              error, cause;
    const char            *values[3];
    ngx_http_sfn_record_t  rec;

    if (ngx_http_sfn_aws_exec_field(ctx) != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "error", 0, &error) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "cause", 0, &cause) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "error", &error, 256) != NGX_OK
        || ngx_http_sfn_aws_length(ctx, "cause", &cause, 32768) != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    rc = NGX_DECLINED;

    if (ngx_http_sfn_aws_shm_record(ctx, &rec) == NGX_OK) {
        rc = ngx_http_sfn_exec_stop(ctx->smcf, &ctx->exec_arn, &error,
                                    &cause, ctx->r->pool);
    }

    if (rc != NGX_DECLINED && rc != NGX_AGAIN) {

        if (rc == NGX_ERROR) {
            return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                                "the stop could not be "
                                                "delivered");
        }

        json = cJSON_CreateObject();
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* a finished execution keeps its own stop date */

        cJSON_AddNumberToObject(json, "stopDate",
                                (rc == NGX_BUSY && rec.stop_ms)
                                ? rec.stop_ms / 1000.0
                                : ngx_http_sfn_now_ms() / 1000.0);

        ngx_log_error(NGX_LOG_INFO, ctx->r->connection->log, 0,
                      "sfn aws api: execution \"%V\" stopped",
                      &ctx->exec_name);

        return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
    }

    arn = ngx_http_sfn_aws_exec_arn(ctx, &ctx->sm_name, &ctx->exec_name);
    if (arn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* another worker's or node's, or not in the zone: ask PostgreSQL */

    values[0] = (char *) arn;
    values[1] = error.data ? (char *) error.data : NULL;
    values[2] = cause.data ? (char *) cause.data : NULL;

    return ngx_http_sfn_aws_query_alone(ctx,
               "SELECT CASE WHEN sfn_mail_post(arn, 1, 0, $2, $3) "
               "THEN NULL ELSE extract(epoch FROM stop_date) END "
               "FROM sfn_executions WHERE arn = $1",
               3, values, ngx_http_sfn_aws_stop_row);
}


/* SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat */

static ngx_int_t
ngx_http_sfn_aws_callback_reply(ngx_http_sfn_aws_ctx_t *ctx, ngx_int_t rc)
{
    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_reply_error(ctx, "TaskDoesNotExist",
                                            "Task Does Not Exist: 'the task "
                                            "token is unknown or its task "
                                            "has ended'");
    }

    if (rc == NGX_BUSY) {
        return ngx_http_sfn_aws_reply_error(ctx, "TaskTimedOut",
                                            "Task Timed Out: 'the task of "
                                            "this token has already been "
                                            "closed'");
    }

    if (rc != NGX_OK) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the callback could not be "
                                            "delivered");
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, cJSON_CreateObject());
}


static ngx_int_t
ngx_http_sfn_aws_callback_answered(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    char  *v;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_callback_reply(ctx, NGX_ERROR);
    }

    v = PQgetvalue(res, 0, 0);

    return ngx_http_sfn_aws_callback_reply(ctx,
               ngx_strcmp(v, "ok") == 0 ? NGX_OK
               : (ngx_strcmp(v, "closed") == 0 ? NGX_BUSY : NGX_DECLINED));
}


static ngx_int_t
ngx_http_sfn_aws_callback(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_msg_kind_e kind, ngx_str_t *a, ngx_str_t *b)
{
    u_char      *k;
    ngx_int_t    rc;
    ngx_str_t    token;
    const char  *values[4];

    if (ngx_http_sfn_aws_field(ctx, "taskToken", 1, &token) != NGX_OK
        || ngx_http_sfn_aws_length(ctx, "taskToken", &token, 2048) != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    rc = ngx_http_sfn_task_callback(ctx->smcf, kind, &token, a, b,
                                    ctx->r->pool);

    if (rc == NGX_AGAIN
        || (rc == NGX_DECLINED && ctx->smcf->database.len))
    {
        /* a Standard execution of another worker or node */

        k = ngx_pnalloc(ctx->r->pool, NGX_INT_T_LEN + 1);
        if (k == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *ngx_sprintf(k, "%d", (int) kind) = '\0';

        values[0] = (char *) token.data;
        values[1] = (char *) k;
        values[2] = a->data ? (char *) a->data : NULL;
        values[3] = b->data ? (char *) b->data : NULL;

        return ngx_http_sfn_aws_query_alone(ctx,
                   "SELECT sfn_token_answer($1, $2, $3, $4)", 4, values,
                   ngx_http_sfn_aws_callback_answered);
    }

    return ngx_http_sfn_aws_callback_reply(ctx, rc);
}


ngx_int_t
ngx_http_sfn_aws_task_success(ngx_http_sfn_aws_ctx_t *ctx)
{
    cJSON      *out;
    ngx_str_t   output, none;

    if (ngx_http_sfn_aws_field(ctx, "output", 1, &output) != NGX_OK
        || ngx_http_sfn_aws_length(ctx, "output", &output, SFN_MAX_PAYLOAD)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    /*
     * strict, as the engine reads it when the task ends: cJSON's parser
     * stops after the value, so "{} x" would be taken here and fail the
     * execution later
     */

    out = sfn_json_parse((char *) output.data, output.len);

    if (out == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidOutput",
                                            "Invalid Output: 'the output is "
                                            "not valid JSON'");
    }

    cJSON_Delete(out);

    ngx_str_null(&none);

    return ngx_http_sfn_aws_callback(ctx, NGX_HTTP_SFN_MSG_SUCCESS, &output,
                                     &none);
}


ngx_int_t
ngx_http_sfn_aws_task_failure(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t  error, cause;

    if (ngx_http_sfn_aws_field(ctx, "error", 0, &error) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "cause", 0, &cause) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "error", &error, 256) != NGX_OK
        || ngx_http_sfn_aws_length(ctx, "cause", &cause, 32768) != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    return ngx_http_sfn_aws_callback(ctx, NGX_HTTP_SFN_MSG_FAILURE, &error,
                                     &cause);
}


ngx_int_t
ngx_http_sfn_aws_heartbeat(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t  none;

    ngx_str_null(&none);

    return ngx_http_sfn_aws_callback(ctx, NGX_HTTP_SFN_MSG_HEARTBEAT, &none,
                                     &none);
}
