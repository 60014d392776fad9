
/*
 * Copyright (C) ngx_sfn authors
 *
 * DescribeMapRun, ListMapRuns and UpdateMapRun, from the rows of
 * sql/016_map_runs.sql (ngx_http_sfn_maprun.c writes them).  A map run's
 * ARN is arn:aws:states:REGION:ACCOUNT:mapRun:MACHINE/LABEL:UUID.
 */


#include "ngx_http_sfn_aws.h"


#define NGX_HTTP_SFN_AWS_MAP_RUNS  'M'


static ngx_int_t
ngx_http_sfn_aws_maprun_field(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *arn)
{
    u_char     *p;
    ngx_str_t   pre;

    if (ngx_http_sfn_aws_field(ctx, "mapRunArn", 1, arn) != NGX_OK
        || ngx_http_sfn_aws_length(ctx, "mapRunArn", arn, 2000) != NGX_OK)
    {
        return NGX_ERROR;
    }

    pre.len = sizeof("arn:aws:states:::mapRun:") - 1
              + ctx->smcf->region.len + ctx->smcf->account.len;
    pre.data = ngx_pnalloc(ctx->r->pool, pre.len + 1);
    if (pre.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(pre.data, "arn:aws:states:%V:%V:mapRun:%Z",
                &ctx->smcf->region, &ctx->smcf->account);

    p = arn->data + pre.len;

    if (arn->len <= pre.len || ngx_strncmp(arn->data, pre.data, pre.len) != 0
        || ngx_strlchr(p, arn->data + arn->len, '/') == NULL
        || ngx_strlchr(p, arn->data + arn->len, ':') == NULL)
    {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                                        "Invalid Arn: 'Resource type not "
                                        "valid in this context: %V'", arn);
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_invalid(ctx, "ResourceNotFound",
                                        "Map run not found: map runs are "
                                        "kept in the database, and none is "
                                        "configured");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_aws_maprun_counts(cJSON *json, const char *name,
    const char *text, double not_redrivable, double pending)
{
    cJSON        *c, *in, *v;
    const char  **k;

    static const char  *keys[] = {
        "pending", "running", "succeeded", "failed", "timedOut", "aborted",
        "total", "resultsWritten", NULL
    };

    in = sfn_json_parse(text, ngx_strlen(text));

    c = cJSON_AddObjectToObject(json, name);
    if (c == NULL) {
        cJSON_Delete(in);
        return NGX_ERROR;
    }

    for (k = keys; *k; k++) {
        v = cJSON_GetObjectItemCaseSensitive(in, *k);
        cJSON_AddNumberToObject(c, *k, cJSON_IsNumber(v) ? v->valuedouble
                                                         : 0);
    }

    cJSON_AddNumberToObject(c, "failuresNotRedrivable", not_redrivable);
    cJSON_AddNumberToObject(c, "pendingRedrive", pending);

    cJSON_Delete(in);

    return NGX_OK;
}


/* DescribeMapRun: the children are the items (or the batches) */

static ngx_int_t
ngx_http_sfn_aws_maprun_described(ngx_http_sfn_aws_ctx_t *ctx,
    PGresult *res)
{
    char    *count;
    cJSON   *json;
    double   pct, not_redrivable, pending;

    if (res == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the map run was not read");
    }

    if (PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ResourceNotFound",
                                            "Map run not found: '%V'",
                                            &ctx->arn);
    }

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddStringToObject(json, "mapRunArn", PQgetvalue(res, 0, 0));
    cJSON_AddStringToObject(json, "executionArn", PQgetvalue(res, 0, 1));
    cJSON_AddStringToObject(json, "status", PQgetvalue(res, 0, 2));
    cJSON_AddNumberToObject(json, "startDate",
                            ngx_http_sfn_aws_epoch(res, 0, 3));

    if (!PQgetisnull(res, 0, 4)) {
        cJSON_AddNumberToObject(json, "stopDate",
                                ngx_http_sfn_aws_epoch(res, 0, 4));
    }

    cJSON_AddNumberToObject(json, "maxConcurrency",
                            atof(PQgetvalue(res, 0, 5)));

    count = PQgetvalue(res, 0, 6);
    pct = atof(PQgetvalue(res, 0, 7));
    cJSON_AddNumberToObject(json, "toleratedFailurePercentage",
                            pct < 0 ? 0 : pct);
    cJSON_AddNumberToObject(json, "toleratedFailureCount",
                            count[0] == '-' ? 0 : atof(count));

    not_redrivable = atof(PQgetvalue(res, 0, 11));
    pending = atof(PQgetvalue(res, 0, 12));

    if (ngx_http_sfn_aws_maprun_counts(json, "itemCounts",
                                       PQgetvalue(res, 0, 8),
                                       not_redrivable, pending)
        != NGX_OK
        || ngx_http_sfn_aws_maprun_counts(json, "executionCounts",
                                          PQgetvalue(res, 0, 8),
                                          not_redrivable, pending)
           != NGX_OK)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddNumberToObject(json, "redriveCount",
                            atof(PQgetvalue(res, 0, 9)));

    if (!PQgetisnull(res, 0, 10)) {
        cJSON_AddNumberToObject(json, "redriveDate",
                                ngx_http_sfn_aws_epoch(res, 0, 10));
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_describe_map_run(ngx_http_sfn_aws_ctx_t *ctx)
{
    const char  *values[1];

    if (ngx_http_sfn_aws_maprun_field(ctx, &ctx->arn) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    values[0] = (char *) ctx->arn.data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT arn, execution_arn, status, "
               "extract(epoch FROM started_at), "
               "extract(epoch FROM stopped_at), max_concurrency, "
               "tolerated_count, tolerated_pct, counts::text, "
               "redrive_count, extract(epoch FROM redrive_date), "
               "(SELECT count(*) FROM sfn_executions x "
               "WHERE x.map_run = m.arn "
               "AND x.status IN ('FAILED', 'TIMED_OUT', 'ABORTED') "
               "AND sfn_redrive_refusal(x.type, x.status, x.stop_date, "
               "x.redrive_count) IS NOT NULL), "
               "(SELECT count(*) FROM sfn_executions x "
               "WHERE x.map_run = m.arn AND m.status = 'RUNNING' "
               "AND x.status IN ('FAILED', 'TIMED_OUT', 'ABORTED') "
               "AND x.stop_date < m.redrive_date) "
               "FROM sfn_map_runs m WHERE m.arn = $1",
               1, values, ngx_http_sfn_aws_maprun_described);
}


/* ListMapRuns: an execution's, by ARN; the cursor is the last one given */

static ngx_int_t
ngx_http_sfn_aws_maprun_listed(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    int     i, n;
    cJSON  *json, *list, *item;

    if (res == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the map runs were not read");
    }

    json = ngx_http_sfn_aws_list_reply("mapRuns", &list);

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = PQntuples(res);

    for (i = 0; i < n && i < ctx->limit; i++) {
        item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "executionArn", PQgetvalue(res, i, 1));
        cJSON_AddStringToObject(item, "mapRunArn", PQgetvalue(res, i, 0));
        cJSON_AddStringToObject(item, "stateMachineArn",
                                PQgetvalue(res, i, 2));
        cJSON_AddNumberToObject(item, "startDate",
                                ngx_http_sfn_aws_epoch(res, i, 3));
        if (!PQgetisnull(res, i, 4)) {
            cJSON_AddNumberToObject(item, "stopDate",
                                    ngx_http_sfn_aws_epoch(res, i, 4));
        }
    }

    if (n > ctx->limit
        && ngx_http_sfn_aws_next_token(ctx, json, NGX_HTTP_SFN_AWS_MAP_RUNS,
               &ctx->bind, (u_char *) PQgetvalue(res, ctx->limit - 1, 0),
               PQgetlength(res, ctx->limit - 1, 0))
           != NGX_OK)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_list_map_runs(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t    arn, last;
    const char  *values[3];
    u_char       lim[NGX_INT_T_LEN + 1];

    if (ngx_http_sfn_aws_exec_field(ctx) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ngx_http_sfn_aws_field(ctx, "executionArn", 1, &arn) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    ctx->bind = arn;

    if (ngx_http_sfn_aws_page(ctx, 100, NGX_HTTP_SFN_AWS_MAP_RUNS,
                              &ctx->bind)
        != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    ngx_str_null(&last);

    if (ctx->cursor.data
        && ngx_http_sfn_aws_cursor_name(ctx, ctx->cursor.data,
                                        ctx->cursor.len, &last)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidToken",
                                            "Invalid Token: 'the token is "
                                            "not one of this request'");
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK,
                                     cJSON_Parse("{\"mapRuns\":[]}"));
    }

    *ngx_sprintf(lim, "%i", ctx->limit + 1) = '\0';

    values[0] = (char *) arn.data;
    values[1] = (char *) last.data;
    values[2] = (char *) lim;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT arn, execution_arn, state_machine_arn, "
               "extract(epoch FROM started_at), "
               "extract(epoch FROM stopped_at) "
               "FROM sfn_map_runs WHERE execution_arn = $1 "
               "AND ($2::text IS NULL OR arn > $2) "
               "ORDER BY arn LIMIT $3::int",
               3, values, ngx_http_sfn_aws_maprun_listed);
}


/* UpdateMapRun: the owner reads the new limits with its next write */

static ngx_int_t
ngx_http_sfn_aws_maprun_updated(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    if (res == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the map run was not updated");
    }

    if (ngx_http_sfn_pg_affected(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ResourceNotFound",
                                            "Map run not found: '%V'",
                                            &ctx->arn);
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, cJSON_CreateObject());
}


ngx_int_t
ngx_http_sfn_aws_update_map_run(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t    conc, count;
    const char  *values[4];
    u_char       c1[NGX_INT_T_LEN + 1], c2[NGX_INT_T_LEN + 1], c3[64];
    cJSON       *v;

    if (ngx_http_sfn_aws_maprun_field(ctx, &ctx->arn) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    conc = -1;
    count = -1;

    if (ngx_http_sfn_aws_number(ctx, "maxConcurrency", 0, 10000, &conc)
        == NGX_ERROR
        || ngx_http_sfn_aws_number(ctx, "toleratedFailureCount", 0,
                                   NGX_MAX_INT32_VALUE, &count)
           == NGX_ERROR)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    values[1] = NULL;
    values[2] = NULL;
    values[3] = NULL;

    if (conc >= 0) {
        *ngx_sprintf(c1, "%i", conc) = '\0';
        values[1] = (char *) c1;
    }

    if (count >= 0) {
        *ngx_sprintf(c2, "%i", count) = '\0';
        values[2] = (char *) c2;
    }

    v = cJSON_GetObjectItemCaseSensitive(ctx->body,
                                         "toleratedFailurePercentage");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0
            || v->valuedouble > 100)
        {
            return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                       "1 validation error detected: Value at "
                       "'toleratedFailurePercentage' failed to satisfy "
                       "constraint: Member must have value between 0 and "
                       "100");
        }

        ngx_snprintf(c3, sizeof(c3) - 1, "%.6f%Z", v->valuedouble);
        values[3] = (char *) c3;
    }

    values[0] = (char *) ctx->arn.data;

    return ngx_http_sfn_aws_query(ctx,
               "UPDATE sfn_map_runs SET "
               "max_concurrency = coalesce($2::int, max_concurrency), "
               "tolerated_count = coalesce($3::bigint, tolerated_count), "
               "tolerated_pct = coalesce($4::float8, tolerated_pct) "
               "WHERE arn = $1 AND status = 'RUNNING'",
               4, values, ngx_http_sfn_aws_maprun_updated);
}


/*
 * ListExecutions with mapRunArn: its Standard children, named
 * "<uuid>-<index>" under "<machine>/<label>" (Express ones have no row,
 * as AWS lists none); the cursor is the last name given
 */

static ngx_int_t
ngx_http_sfn_aws_maprun_execs_listed(ngx_http_sfn_aws_ctx_t *ctx,
    PGresult *res)
{
    int     i, n;
    cJSON  *json, *list, *item;

    if (res == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the executions were not read");
    }

    json = ngx_http_sfn_aws_list_reply("executions", &list);

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = PQntuples(res);

    for (i = 0; i < n && i < ctx->limit; i++) {
        item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "executionArn", PQgetvalue(res, i, 0));
        cJSON_AddStringToObject(item, "stateMachineArn",
                                PQgetvalue(res, i, 1));
        cJSON_AddStringToObject(item, "name", PQgetvalue(res, i, 2));
        cJSON_AddStringToObject(item, "status", PQgetvalue(res, i, 3));
        cJSON_AddNumberToObject(item, "startDate",
                                ngx_http_sfn_aws_epoch(res, i, 4));
        if (!PQgetisnull(res, i, 5)) {
            cJSON_AddNumberToObject(item, "stopDate",
                                    ngx_http_sfn_aws_epoch(res, i, 5));
        }
        ngx_http_sfn_json_add_str(item, "mapRunArn", &ctx->arn);
        cJSON_AddNumberToObject(item, "redriveCount", 0);
    }

    if (n > ctx->limit
        && ngx_http_sfn_aws_next_token(ctx, json, NGX_HTTP_SFN_AWS_MAP_RUNS,
               &ctx->bind, (u_char *) PQgetvalue(res, ctx->limit - 1, 2),
               PQgetlength(res, ctx->limit - 1, 2))
           != NGX_OK)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_list_map_run_execs(ngx_http_sfn_aws_ctx_t *ctx)
{
    u_char      *p, *colon, *last;
    ngx_str_t    machine, uuid, status, cursor;
    const char  *values[5];
    u_char       lim[NGX_INT_T_LEN + 1];

    if (cJSON_GetObjectItemCaseSensitive(ctx->body, "stateMachineArn")) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                                            "Specify either "
                                            "stateMachineArn or mapRunArn, "
                                            "not both");
    }

    if (ngx_http_sfn_aws_maprun_field(ctx, &ctx->arn) != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "statusFilter", 0, &status)
           == NGX_ERROR)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    /* ...:mapRun:<machine>/<label>:<uuid> */

    last = ctx->arn.data + ctx->arn.len;
    p = (u_char *) ngx_strstr(ctx->arn.data, ":mapRun:") + 8;

    colon = NULL;
    for (u_char *q = p; q < last; q++) {
        if (*q == ':') {
            colon = q;
        }
    }

    if (colon == NULL || colon == p || last - colon - 1 != NGX_UUID_LEN) {
        return ngx_http_sfn_aws_reply_error(ctx, "ResourceNotFound",
                                            "Map run not found: '%V'",
                                            &ctx->arn);
    }

    machine.data = ngx_pnalloc(ctx->r->pool, colon - p + 1);
    uuid.data = ngx_pnalloc(ctx->r->pool, NGX_UUID_LEN + 2);
    if (machine.data == NULL || uuid.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    machine.len = colon - p;
    *ngx_cpymem(machine.data, p, machine.len) = '\0';
    uuid.len = NGX_UUID_LEN + 1;
    ngx_sprintf(uuid.data, "%*s-%Z", (size_t) NGX_UUID_LEN, colon + 1);

    ctx->bind = ctx->arn;

    if (ngx_http_sfn_aws_page(ctx, 100, NGX_HTTP_SFN_AWS_MAP_RUNS,
                              &ctx->bind)
        != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    ngx_str_null(&cursor);

    if (ctx->cursor.data
        && ngx_http_sfn_aws_cursor_name(ctx, ctx->cursor.data,
                                        ctx->cursor.len, &cursor)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidToken",
                                            "Invalid Token: 'the token is "
                                            "not one of this request'");
    }

    *ngx_sprintf(lim, "%i", ctx->limit + 1) = '\0';

    values[0] = (char *) machine.data;
    values[1] = (char *) uuid.data;
    values[2] = (char *) status.data;
    values[3] = (char *) cursor.data;
    values[4] = (char *) lim;

    /*
     * the children are named "<uuid>-<index>": a range of the machine's
     * names from the cursor (or the prefix) to the prefix and twenty 9s,
     * past any index, in any collation (digits have their own weights,
     * the rest is the prefix's); a range, not the names of the machine's
     * other map runs filtered
     */

    return ngx_http_sfn_aws_query(ctx,
               "SELECT e.arn, 'arn:aws:states:' || split_part(e.arn, ':', 4) "
               "|| ':' || split_part(e.arn, ':', 5) || ':stateMachine:' "
               "|| e.state_machine, e.name, e.status, "
               "extract(epoch FROM e.start_date), "
               "extract(epoch FROM e.stop_date) "
               "FROM sfn_executions e WHERE e.state_machine = $1 "
               "AND e.name > coalesce($4::text, $2) "
               "AND e.name <= $2 || '99999999999999999999' "
               "AND left(e.name, 37) = $2 "
               "AND ($3::text IS NULL OR e.status = $3) "
               "ORDER BY e.name LIMIT $5::int",
               5, values, ngx_http_sfn_aws_maprun_execs_listed);
}


/*
 * The map run that dispatched the execution of ctx, a child of one if its
 * state machine is "<machine>/<label>" (no name of a state machine holds a
 * "/") and its name "<uuid>-<index>": NGX_DECLINED if not a child
 */

ngx_int_t
ngx_http_sfn_aws_map_run_of(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *arn,
    ngx_str_t *label)
{
    u_char     *slash, *p, *last;
    ngx_str_t  *sm, *name;

    sm = &ctx->sm_name;
    name = &ctx->exec_name;

    slash = ngx_strlchr(sm->data, sm->data + sm->len, '/');

    if (slash == NULL || name->len < NGX_UUID_LEN + 2
        || name->data[NGX_UUID_LEN] != '-')
    {
        return NGX_DECLINED;
    }

    last = name->data + name->len;

    for (p = name->data + NGX_UUID_LEN + 1; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_DECLINED;
        }
    }

    arn->len = sizeof("arn:aws:states:::mapRun::") - 1
               + ctx->smcf->region.len + ctx->smcf->account.len + sm->len
               + NGX_UUID_LEN;
    arn->data = ngx_pnalloc(ctx->r->pool, arn->len + 1);
    if (arn->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(arn->data, "arn:aws:states:%V:%V:mapRun:%V:%*s%Z",
                &ctx->smcf->region, &ctx->smcf->account, sm,
                (size_t) NGX_UUID_LEN, name->data);

    if (label) {
        label->data = slash + 1;
        label->len = sm->data + sm->len - label->data;
    }

    return NGX_OK;
}
