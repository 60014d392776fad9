
/*
 * Copyright (C) ngx_sfn authors
 *
 * RedriveExecution: a Standard execution that ended FAILED, TIMED_OUT or
 * ABORTED less than 14 days ago runs again from the top-level state that
 * ended it (sql/010_redrive.sql finds it and claims the row; the worker
 * resumes it as the recovery does, ngx_http_sfn_recover_row()), and the
 * redrive fields DescribeExecution gives.
 */


#include "ngx_http_sfn_aws.h"


#define NGX_HTTP_SFN_AWS_REDRIVE_DAYS  14
#define NGX_HTTP_SFN_AWS_REDRIVE_MAX   1000


/*
 * redriveCount, redriveDate, redriveStatus and redriveStatusReason of an
 * execution: the same rules as sfn_redrive_refusal()
 */

ngx_int_t
ngx_http_sfn_aws_redrive_fields(cJSON *json, sfn_type_e type,
    const char *status, double stop, ngx_uint_t count, double date)
{
    const char  *why;

    if (type != SFN_STANDARD) {
        why = "Express executions cannot be redriven";

    } else if (ngx_strcmp(status, "FAILED") != 0
               && ngx_strcmp(status, "TIMED_OUT") != 0
               && ngx_strcmp(status, "ABORTED") != 0)
    {
        why = ngx_strcmp(status, "RUNNING") == 0
              ? "Execution is RUNNING and cannot be redriven"
              : "Execution is SUCCEEDED and cannot be redriven";

    } else if (stop > 0
               && ngx_time() - stop
                  > NGX_HTTP_SFN_AWS_REDRIVE_DAYS * 86400)
    {
        why = "Execution ended more than 14 days ago";

    } else if (count >= NGX_HTTP_SFN_AWS_REDRIVE_MAX) {
        why = "Execution has been redriven 1000 times";

    } else {
        why = NULL;
    }

    if (cJSON_AddNumberToObject(json, "redriveCount", count) == NULL
        || (count && date > 0
            && cJSON_AddNumberToObject(json, "redriveDate", date) == NULL)
        || cJSON_AddStringToObject(json, "redriveStatus",
                                   why ? "NOT_REDRIVABLE" : "REDRIVABLE")
           == NULL
        || (why
            && cJSON_AddStringToObject(json, "redriveStatusReason", why)
               == NULL))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_aws_redriven(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    char   *outcome;
    cJSON  *json;

    if (res == NULL || PQntuples(res) != 1) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the execution was not "
                                            "redriven");
    }

    outcome = PQgetvalue(res, 0, 18);

    if (ngx_strcmp(outcome, "missing") == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionDoesNotExist",
                                            "Execution Does Not Exist: '%V'",
                                            &ctx->arn);
    }

    if (ngx_strcmp(outcome, "ok") != 0 && ngx_strcmp(outcome, "again") != 0)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionNotRedrivable",
                                            "Execution Not Redrivable: "
                                            "'%V': %s", &ctx->arn, outcome);
    }

    if (outcome[0] == 'o') {
        /* this worker runs it from now, as one it recovers */
        ngx_http_sfn_recover_row(ctx->smcf, res, 0);
    }

    json = cJSON_CreateObject();

    if (json == NULL
        || cJSON_AddNumberToObject(json, "redriveDate",
                                   ngx_atoof((u_char *) PQgetvalue(res, 0, 19),
                                             PQgetlength(res, 0, 19))
                                   / 1000.0)
           == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_redrive(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t   *key, token;
    const char  *values[4];

    if (ngx_http_sfn_aws_exec_field(ctx) != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "clientToken", 0, &token)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "clientToken", &token, 64) != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (token.data && token.len == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "1 validation error detected: Value '' at 'clientToken' "
                   "failed to satisfy constraint: Member must have length "
                   "greater than or equal to 1");
    }

    if (ctx->exec_type != SFN_STANDARD || ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionNotRedrivable",
                                            "Execution Not Redrivable: '%V': "
                                            "only Standard executions kept "
                                            "in PostgreSQL are redriven",
                                            &ctx->arn);
    }

    key = ngx_http_sfn_aws_exec_key(ctx, &ctx->sm_name);
    if (key == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = (char *) key->data;
    values[1] = (char *) ngx_http_sfn_lease_owner();
    values[2] = NGX_HTTP_SFN_LEASE;
    values[3] = (char *) token.data;

    /*
     * the recovery's columns, its test case (sql/017), then the map run
     * it redrives with it (sql/019)
     */

    return ngx_http_sfn_aws_query(ctx,
               "SELECT r.*, (SELECT e.mock_test_case FROM sfn_executions e "
               "WHERE e.arn = $1), NULL, NULL, d.arn, d.redrive_count "
               "FROM sfn_execution_redrive($1, $2, $3::interval, $4) r "
               "LEFT JOIN sfn_map_run_to_redrive($1) d ON r.outcome = 'ok'",
               4, values, ngx_http_sfn_aws_redriven);
}
