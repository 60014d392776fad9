
/*
 * Copyright (C) ngx_sfn authors
 *
 * The AWS JSON 1.0 API of Step Functions ("sfn_aws_api"): POST with
 * X-Amz-Target: AWSStepFunctions.<Operation>, so the AWS CLI and SDKs
 * work with --endpoint-url.  This file is the protocol: the dispatch
 * table, the body, replies and errors in AWS's shapes (dates are epoch
 * seconds), request fields and ARNs, and the queries of the actions,
 * which hold the request until their statement's batch has committed.
 * The actions are in ngx_http_sfn_aws_sm.c and ngx_http_sfn_aws_exec.c.
 */


#include "ngx_http_sfn_aws.h"
#include <ngx_sha1.h>

#include <sys/random.h>


#define NGX_HTTP_SFN_AWS_MAX_BODY     (2 * 1024 * 1024)
#define NGX_HTTP_SFN_AWS_MAX_RESULTS  1000
#define NGX_HTTP_SFN_AWS_REPLY      2048
#define NGX_HTTP_SFN_AWS_DB_TIMEOUT   10000


typedef struct {
    ngx_str_t                    name;
    ngx_http_sfn_aws_op_pt       handler;
    const char                  *members;
} ngx_http_sfn_aws_op_t;


typedef struct {
    const char                  *member;
    const char                  *values;    /* "A, B" */
} ngx_http_sfn_aws_enum_t;


static void ngx_http_sfn_aws_body(ngx_http_request_t *r);
static void ngx_http_sfn_aws_cleanup(void *data);
/* how a statement goes to PostgreSQL */
#define NGX_HTTP_SFN_AWS_WRITER  0      /* after the worker's writes */
#define NGX_HTTP_SFN_AWS_ALONE   1      /* the same, a transaction alone */
#define NGX_HTTP_SFN_AWS_READER  2      /* what has committed, at once */


static ngx_int_t ngx_http_sfn_aws_query_x(ngx_http_sfn_aws_ctx_t *ctx,
    const char *sql, ngx_http_sfn_pg_prepared_t *ps, int nparams,
    const char **values, ngx_http_sfn_aws_next_pt next, ngx_uint_t via);


/*
 * Each action with its members as the AWS model types them: s a string,
 * e a string of an enumeration (ngx_http_sfn_aws_enums), i an integer,
 * n a number, b a boolean, l a list, m a structure.  A member of another
 * JSON type is refused before the action runs, whether the action reads
 * it or not; a null member is taken out (absent) and unknown members are
 * ignored, as in AWS's JSON protocol.
 */

static ngx_http_sfn_aws_op_t  ngx_http_sfn_aws_ops[] = {

    { ngx_string("CreateStateMachine"), ngx_http_sfn_aws_create,
      "name=s definition=s roleArn=s type=s loggingConfiguration=m tags=l "
      "tracingConfiguration=m publish=b versionDescription=s "
      "encryptionConfiguration=m" },

    { ngx_string("DescribeStateMachine"), ngx_http_sfn_aws_describe_sm,
      "stateMachineArn=s includedData=e" },

    { ngx_string("UpdateStateMachine"), ngx_http_sfn_aws_update,
      "stateMachineArn=s definition=s roleArn=s loggingConfiguration=m "
      "tracingConfiguration=m publish=b versionDescription=s "
      "encryptionConfiguration=m" },

    { ngx_string("DeleteStateMachine"), ngx_http_sfn_aws_delete,
      "stateMachineArn=s" },

    { ngx_string("ListStateMachines"), ngx_http_sfn_aws_list_sms,
      "maxResults=i nextToken=s" },

    { ngx_string("ValidateStateMachineDefinition"), ngx_http_sfn_aws_validate,
      "definition=s type=e severity=e maxResults=i" },

    { ngx_string("StartExecution"), ngx_http_sfn_aws_start,
      "stateMachineArn=s name=s input=s traceHeader=s" },

    { ngx_string("StartSyncExecution"), ngx_http_sfn_aws_start_sync,
      "stateMachineArn=s name=s input=s traceHeader=s includedData=e" },

    { ngx_string("DescribeExecution"), ngx_http_sfn_aws_describe_exec,
      "executionArn=s includedData=e" },

    { ngx_string("DescribeStateMachineForExecution"),
      ngx_http_sfn_aws_describe_sm_exec,
      "executionArn=s includedData=e" },

    { ngx_string("ListExecutions"), ngx_http_sfn_aws_list_execs,
      "stateMachineArn=s statusFilter=s maxResults=i nextToken=s mapRunArn=s "
      "redriveFilter=s" },

    { ngx_string("GetExecutionHistory"), ngx_http_sfn_aws_history,
      "executionArn=s maxResults=i reverseOrder=b nextToken=s "
      "includeExecutionData=b" },

    { ngx_string("StopExecution"), ngx_http_sfn_aws_stop,
      "executionArn=s error=s cause=s" },

    { ngx_string("SendTaskSuccess"), ngx_http_sfn_aws_task_success,
      "taskToken=s output=s" },

    { ngx_string("SendTaskFailure"), ngx_http_sfn_aws_task_failure,
      "taskToken=s error=s cause=s" },

    { ngx_string("SendTaskHeartbeat"), ngx_http_sfn_aws_heartbeat,
      "taskToken=s" },

    { ngx_string("TagResource"), ngx_http_sfn_aws_tag,
      "resourceArn=s tags=l" },

    { ngx_string("UntagResource"), ngx_http_sfn_aws_untag,
      "resourceArn=s tagKeys=l" },

    { ngx_string("ListTagsForResource"), ngx_http_sfn_aws_list_tags,
      "resourceArn=s" },

    { ngx_string("PublishStateMachineVersion"), ngx_http_sfn_aws_publish,
      "stateMachineArn=s revisionId=s description=s" },

    { ngx_string("ListStateMachineVersions"), ngx_http_sfn_aws_list_versions,
      "stateMachineArn=s nextToken=s maxResults=i" },

    { ngx_string("DeleteStateMachineVersion"), ngx_http_sfn_aws_delete_version,
      "stateMachineVersionArn=s" },

    { ngx_string("CreateStateMachineAlias"), ngx_http_sfn_aws_create_alias,
      "name=s description=s routingConfiguration=l" },

    { ngx_string("DescribeStateMachineAlias"), ngx_http_sfn_aws_describe_alias,
      "stateMachineAliasArn=s" },

    { ngx_string("UpdateStateMachineAlias"), ngx_http_sfn_aws_update_alias,
      "stateMachineAliasArn=s description=s routingConfiguration=l" },

    { ngx_string("DeleteStateMachineAlias"), ngx_http_sfn_aws_delete_alias,
      "stateMachineAliasArn=s" },

    { ngx_string("ListStateMachineAliases"), ngx_http_sfn_aws_list_aliases,
      "stateMachineArn=s nextToken=s maxResults=i" },

    { ngx_string("RedriveExecution"), ngx_http_sfn_aws_redrive,
      "executionArn=s clientToken=s" },

    { ngx_string("CreateActivity"), ngx_http_sfn_aws_create_activity,
      "name=s tags=l encryptionConfiguration=m" },

    { ngx_string("DescribeActivity"), ngx_http_sfn_aws_describe_activity,
      "activityArn=s" },

    { ngx_string("DeleteActivity"), ngx_http_sfn_aws_delete_activity,
      "activityArn=s" },

    { ngx_string("ListActivities"), ngx_http_sfn_aws_list_activities,
      "maxResults=i nextToken=s" },

    { ngx_string("GetActivityTask"), ngx_http_sfn_aws_get_activity_task,
      "activityArn=s workerName=s" },

    { ngx_string("TestState"), ngx_http_sfn_aws_test_state,
      "definition=s roleArn=s input=s inspectionLevel=s revealSecrets=b "
      "variables=s stateName=s mock=m context=s" },

    { ngx_string("DescribeMapRun"), ngx_http_sfn_aws_describe_map_run,
      "mapRunArn=s" },

    { ngx_string("ListMapRuns"), ngx_http_sfn_aws_list_map_runs,
      "executionArn=s maxResults=i nextToken=s" },

    { ngx_string("UpdateMapRun"), ngx_http_sfn_aws_update_map_run,
      "mapRunArn=s maxConcurrency=i toleratedFailurePercentage=n "
      "toleratedFailureCount=i" },

    { ngx_null_string, NULL, NULL }
};


/* the enumerations of members, by name: the values as AWS lists them */

static ngx_http_sfn_aws_enum_t  ngx_http_sfn_aws_enums[] = {
    { "includedData", "ALL_DATA, METADATA_ONLY" },
    { "severity", "ERROR, WARNING" },
    { "type", "STANDARD, EXPRESS" },
    { NULL, NULL }
};


static u_char       ngx_http_sfn_aws_rid[16];
static uint64_t     ngx_http_sfn_aws_rid_n;


char *
ngx_http_sfn_aws_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_loc_conf_t *slcf = conf;

    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_sfn_main_conf_t  *smcf;

    if (slcf->aws_api) {
        return "is duplicate";
    }

    slcf->aws_api = 1;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sfn_module);
    smcf->aws_api = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_sfn_aws_handler;

    return NGX_CONF_OK;
}


/* replies */

/*
 * x-amzn-RequestId: a random prefix per worker and a counter, in UUID
 * form; no system call per reply
 */

static size_t
ngx_http_sfn_aws_request_id(u_char *buf)
{
    u_char    *b;
    uint64_t   n;

    b = ngx_http_sfn_aws_rid;

    if (ngx_http_sfn_aws_rid_n++ == 0) {
        if (getrandom(b, sizeof(ngx_http_sfn_aws_rid), 0)
            != (ssize_t) sizeof(ngx_http_sfn_aws_rid))
        {
            ngx_memzero(b, sizeof(ngx_http_sfn_aws_rid));
            *(ngx_pid_t *) b = ngx_pid;
        }

        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
    }

    n = ngx_http_sfn_aws_rid_n;

    b[10] = (u_char) (n >> 40);
    b[11] = (u_char) (n >> 32);
    b[12] = (u_char) (n >> 24);
    b[13] = (u_char) (n >> 16);
    b[14] = (u_char) (n >> 8);
    b[15] = (u_char) n;

    return ngx_sprintf(buf, "%*xs-%*xs-%*xs-%*xs-%*xs",
                       (size_t) 4, b, (size_t) 2, b + 4, (size_t) 2, b + 6,
                       (size_t) 2, b + 8, (size_t) 6, b + 10)
           - buf;
}


ngx_int_t
ngx_http_sfn_aws_send(ngx_http_request_t *r, ngx_uint_t status, cJSON *json)
{
    char             *text;
    size_t            len;
    u_char           *id;
    ngx_buf_t        *b;
    ngx_table_elt_t  *h;

    id = ngx_pnalloc(r->pool, NGX_UUID_LEN);
    h = ngx_list_push(&r->headers_out.headers);

    /* most replies fit a page of the request's pool: no malloc, no copy */

    b = ngx_create_temp_buf(r->pool, NGX_HTTP_SFN_AWS_REPLY);

    if (b == NULL || id == NULL || h == NULL) {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cJSON_PrintPreallocated(json, (char *) b->pos, NGX_HTTP_SFN_AWS_REPLY,
                                0))
    {
        b->last += ngx_strlen(b->pos);
        cJSON_Delete(json);

    } else {
        text = cJSON_PrintUnformatted(json);
        cJSON_Delete(json);

        if (text == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        len = ngx_strlen(text);

        b = ngx_create_temp_buf(r->pool, len);
        if (b == NULL) {
            cJSON_free(text);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->last = ngx_cpymem(b->last, text, len);
        cJSON_free(text);
    }

    h->hash = 1;
    ngx_str_set(&h->key, "x-amzn-RequestId");
    h->value.data = id;
    h->value.len = ngx_http_sfn_aws_request_id(id);

    return ngx_http_sfn_send(r, status, "application/x-amz-json-1.0", b);
}


static ngx_int_t
ngx_http_sfn_aws_fail(ngx_http_request_t *r, const char *type,
    const char *message)
{
    cJSON       *json;
    ngx_uint_t   status;

    status = NGX_HTTP_BAD_REQUEST;

    if (ngx_strcmp(type, "InternalFailure") == 0) {
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else if (ngx_strcmp(type, "ServiceUnavailable") == 0) {
        status = NGX_HTTP_SERVICE_UNAVAILABLE;

    } else if (ngx_strcmp(type, "Unauthorized") == 0) {
        status = NGX_HTTP_UNAUTHORIZED;
    }

    json = cJSON_CreateObject();

    if (json == NULL
        || cJSON_AddStringToObject(json, "__type", type) == NULL
        || cJSON_AddStringToObject(json, "message", message) == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(r, status, json);
}


/* records an error in ctx; ngx_http_sfn_aws_error() sends it */

ngx_int_t
ngx_http_sfn_aws_invalid(ngx_http_sfn_aws_ctx_t *ctx, const char *type,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    ctx->type = type;

    ctx->message = ngx_pnalloc(ctx->r->pool, NGX_MAX_ERROR_STR);
    if (ctx->message == NULL) {
        return NGX_ERROR;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(ctx->message, ctx->message + NGX_MAX_ERROR_STR - 1,
                      fmt, args);
    va_end(args);

    *p = '\0';

    return NGX_ERROR;
}


ngx_int_t
ngx_http_sfn_aws_error(ngx_http_sfn_aws_ctx_t *ctx)
{
    if (ctx->message == NULL) {
        return ngx_http_sfn_aws_fail(ctx->r, "InternalFailure",
                                     "internal failure");
    }

    return ngx_http_sfn_aws_fail(ctx->r, ctx->type, (char *) ctx->message);
}


ngx_int_t
ngx_http_sfn_aws_reply_error(ngx_http_sfn_aws_ctx_t *ctx, const char *type,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    return ngx_http_sfn_aws_fail(ctx->r, type, (char *) msg);
}


/* request fields */

ngx_int_t
ngx_http_sfn_aws_field(ngx_http_sfn_aws_ctx_t *ctx, const char *name,
    ngx_uint_t required, ngx_str_t *s)
{
    cJSON  *item;

    ngx_str_null(s);

    item = cJSON_GetObjectItemCaseSensitive(ctx->body, name);

    if (item == NULL || cJSON_IsNull(item)) {
        if (!required) {
            return NGX_DECLINED;
        }

        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                   "1 validation error detected: Value null at '%s' failed "
                   "to satisfy constraint: Member must not be null", name);
    }

    if (!cJSON_IsString(item)) {
        return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for '%s'",
                                        name);
    }

    s->data = (u_char *) item->valuestring;
    s->len = ngx_strlen(item->valuestring);

    return NGX_OK;
}


ngx_int_t
ngx_http_sfn_aws_number(ngx_http_sfn_aws_ctx_t *ctx, const char *name,
    ngx_int_t min, ngx_int_t max, ngx_int_t *n)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(ctx->body, name);

    if (item == NULL || cJSON_IsNull(item)) {
        return NGX_DECLINED;
    }

    if (!cJSON_IsNumber(item)) {
        return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for '%s'",
                                        name);
    }

    if (item->valuedouble > -9.2e18 && item->valuedouble < 9.2e18
        && item->valuedouble != (double) (int64_t) item->valuedouble)
    {
        return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for '%s'",
                                        name);
    }

    if (item->valuedouble < min || item->valuedouble > max) {
        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                   "1 validation error detected: Value '%d' at '%s' failed "
                   "to satisfy constraint: Member must have value between "
                   "%i and %i", item->valueint, name, min, max);
    }

    *n = (ngx_int_t) item->valuedouble;

    return NGX_OK;
}


ngx_int_t
ngx_http_sfn_aws_length(ngx_http_sfn_aws_ctx_t *ctx, const char *name,
    ngx_str_t *s, size_t max)
{
    if (s->len <= max) {
        return NGX_OK;
    }

    return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
               "1 validation error detected: Value at '%s' failed to "
               "satisfy constraint: Member must have length less than or "
               "equal to %uz", name, max);
}


/*
 * An alias's name, the model's CharacterRestrictedName:
 * ^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$, up to 80 characters; it is
 * never all digits, which would read as a version number
 */

ngx_int_t
ngx_http_sfn_aws_alias_name_valid(ngx_str_t *name)
{
    u_char      *p, *last;
    ngx_uint_t   letter;

    if (name->len == 0 || name->len > NGX_HTTP_SFN_NAME_LEN) {
        return 0;
    }

    letter = 0;
    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        if (*p >= '0' && *p <= '9') {
            continue;
        }

        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || *p == '_' || *p == '-' || *p == '.'))
        {
            return 0;
        }

        letter = 1;
    }

    return letter;
}


/*
 * AWS's rule for names of state machines and executions: no white space,
 * none of <>{}[]?*"#%\^|~`$&,;:/ and no control character, U+0000 to
 * U+001F and U+007F to U+009F (C2 80 to C2 9F in UTF-8)
 */

ngx_int_t
ngx_http_sfn_aws_name_valid(ngx_str_t *name)
{
    u_char  *p, *last;

    if (name->len == 0 || name->len > NGX_HTTP_SFN_NAME_LEN) {
        return 0;
    }

    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        if (*p <= 0x20 || *p == 0x7f
            || ngx_strchr("<>{}[]?*\"#%\\^|~`$&,;:/", *p)
            || (*p == 0xc2 && p + 1 < last && p[1] >= 0x80 && p[1] <= 0x9f))
        {
            return 0;
        }
    }

    return 1;
}


u_char *
ngx_http_sfn_aws_cstr(ngx_pool_t *pool, u_char *data, size_t len)
{
    u_char  *p;

    p = ngx_pnalloc(pool, len + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_cpymem(p, data, len) = '\0';

    return p;
}


/*
 * arn:aws:states:<region>:<account>:<type>:<name>[:<execution>].
 * NGX_DECLINED: well formed, but of another partition, region or account.
 */

ngx_int_t
ngx_http_sfn_aws_arn(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *arn,
    ngx_uint_t exec)
{
    u_char     *p, *q, *last;
    ngx_uint_t  n;
    ngx_str_t   f[8];

    ctx->arn = *arn;

    last = arn->data + arn->len;
    q = arn->data;
    n = 0;

    for (p = arn->data; n < 8; p = q + 1) {
        q = ngx_strlchr(p, last, ':');
        q = q ? q : last;

        f[n].data = p;
        f[n].len = q - p;
        n++;

        if (q == last) {
            break;
        }
    }

    if (n < 7 || q != last
        || f[0].len != 3 || ngx_strncmp(f[0].data, "arn", 3) != 0
        || f[2].len != 6 || ngx_strncmp(f[2].data, "states", 6) != 0)
    {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                                        "Invalid Arn: 'Invalid ARN prefix: "
                                        "%V'", arn);
    }

    if (exec) {
        if (n != 8
            || !((f[5].len == 9 && ngx_strncmp(f[5].data, "execution", 9)
                                   == 0)
                 || (f[5].len == 7 && ngx_strncmp(f[5].data, "express", 7)
                                      == 0)))
        {
            return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                       "Invalid Arn: 'Resource type not valid in this "
                       "context: %V'", &f[5]);
        }

    } else if (n < 7 || f[5].len != 12
               || ngx_strncmp(f[5].data, "stateMachine", 12) != 0)
    {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                   "Invalid Arn: 'Resource type not valid in this context: "
                   "%V'", &f[5]);

    } else if (n == 8 && !ctx->qualify) {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                   "Invalid Arn: 'Qualified state machine ARN not valid in "
                   "this context: %V'", arn);
    }

    if (f[6].len == 0 || (n == 8 && f[7].len == 0)) {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                                        "Invalid Arn: '%V'", arn);
    }

    ngx_str_null(&ctx->qualifier);
    ctx->version = 0;

    if (!exec && n == 8) {

        /* ":<version>", a number from 1, or ":<alias>" */

        for (p = f[7].data; p < f[7].data + f[7].len; p++) {
            if (*p < '0' || *p > '9') {
                break;
            }
        }

        ctx->version = (p == f[7].data + f[7].len);

        if ((ctx->version && (f[7].data[0] == '0' || f[7].len > 18))
            || (!ctx->version && !ngx_http_sfn_aws_alias_name_valid(&f[7])))
        {
            return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                                            "Invalid Arn: 'Invalid version "
                                            "or alias qualifier: %V'", arn);
        }

        ctx->qualifier.data = ngx_http_sfn_aws_cstr(ctx->r->pool, f[7].data,
                                                    f[7].len);
        if (ctx->qualifier.data == NULL) {
            return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                            "out of memory");
        }

        ctx->qualifier.len = f[7].len;
    }

    ctx->sm_name.data = ngx_http_sfn_aws_cstr(ctx->r->pool, f[6].data,
                                              f[6].len);
    ctx->sm_name.len = f[6].len;

    if (exec) {
        ctx->exec_name.data = ngx_http_sfn_aws_cstr(ctx->r->pool, f[7].data,
                                                    f[7].len);
        ctx->exec_name.len = f[7].len;

        /* the form the execution was named by is the key of its record */

        ctx->exec_type = (f[5].len == 7) ? SFN_EXPRESS : SFN_STANDARD;
    }

    if (ctx->sm_name.data == NULL || (exec && ctx->exec_name.data == NULL)) {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    /* this node names its resources in the "aws" partition only */

    if (f[1].len != 3 || ngx_strncmp(f[1].data, "aws", 3) != 0
        || f[3].len != ctx->smcf->region.len
        || ngx_strncmp(f[3].data, ctx->smcf->region.data, f[3].len) != 0
        || f[4].len != ctx->smcf->account.len
        || ngx_strncmp(f[4].data, ctx->smcf->account.data, f[4].len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


u_char *
ngx_http_sfn_aws_exec_arn(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *sm,
    ngx_str_t *name)
{
    ngx_str_t  arn;

    return ngx_http_sfn_exec_arn(ctx->smcf, ctx->exec_type, sm, name,
                                 ctx->r->pool, &arn);
}


/* the execution's ARN as this node spells it: the key of its record */

ngx_str_t *
ngx_http_sfn_aws_exec_key(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *sm)
{
    if (ctx->exec_arn.data == NULL
        && ngx_http_sfn_exec_arn(ctx->smcf, ctx->exec_type, sm,
                                 &ctx->exec_name, ctx->r->pool,
                                 &ctx->exec_arn)
           == NULL)
    {
        return NULL;
    }

    return &ctx->exec_arn;
}


u_char *
ngx_http_sfn_aws_sm_arn(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *sm)
{
    u_char  *p, *arn;

    arn = ngx_pnalloc(ctx->r->pool, sizeof("arn:aws:states:::stateMachine:")
                                    + ctx->smcf->region.len
                                    + ctx->smcf->account.len + sm->len);
    if (arn == NULL) {
        return NULL;
    }

    p = ngx_sprintf(arn, "arn:aws:states:%V:%V:stateMachine:%V",
                    &ctx->smcf->region, &ctx->smcf->account, sm);
    *p = '\0';

    return arn;
}


double
ngx_http_sfn_aws_epoch(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? -1
                                      : strtod(PQgetvalue(res, row, col),
                                               NULL);
}


ngx_int_t
ngx_http_sfn_aws_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_sfn_aws_fail(r, "UnknownOperationException",
                                     "only POST is supported");
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_sfn_aws_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* 1 when every member name and string in v is UTF-8 */

static ngx_uint_t
ngx_http_sfn_aws_utf8_tree(cJSON *v)
{
    cJSON  *c;

    if (v->string && !sfn_utf8_valid(v->string, ngx_strlen(v->string))) {
        return 0;
    }

    if (cJSON_IsString(v)) {
        return sfn_utf8_valid(v->valuestring, ngx_strlen(v->valuestring));
    }

    for (c = v->child; c; c = c->next) {
        if (!ngx_http_sfn_aws_utf8_tree(c)) {
            return 0;
        }
    }

    return 1;
}


/*
 * A request body whose strings hold bytes that are not UTF-8, or a NUL
 * (an escaped one, kept as C0 80, is not UTF-8 either), is a 400 before
 * the operation looks at anything, in AWS's terms for the member that
 * holds them: a name is InvalidName, an execution's input
 * InvalidExecutionInput, a task's output InvalidOutput, a definition
 * InvalidDefinition (none of them may hold a NUL: a name has no control
 * character, and JSON text has no raw one); anything else, a member name
 * included, cannot be deserialized: SerializationException.  The bytes
 * are never echoed.  NGX_DECLINED sets the error for the reply.
 */

static ngx_int_t
ngx_http_sfn_aws_utf8(cJSON *body, const char **type, const char **message)
{
    cJSON       *c;
    ngx_uint_t   i;

    static struct {
        const char  *member;
        const char  *type;
        const char  *message;
    }  fields[] = {
        { "name", "InvalidName",
          "Invalid Name: 'the name is not valid UTF-8 or holds a NUL'" },
        { "input", "InvalidExecutionInput",
          "Invalid State Machine Execution Input: 'the input is not valid "
          "UTF-8 or holds a NUL'" },
        { "output", "InvalidOutput",
          "Invalid Output: 'the output is not valid UTF-8 or holds a NUL'" },
        { "definition", "InvalidDefinition",
          "Invalid State Machine Definition: 'the definition is not valid "
          "UTF-8 or holds a NUL'" },
        { NULL, NULL, NULL }
    };

    for (c = body->child; c; c = c->next) {
        if (ngx_http_sfn_aws_utf8_tree(c)) {
            continue;
        }

        for (i = 0; fields[i].member; i++) {
            if (cJSON_IsString(c)
                && ngx_strcmp(c->string, fields[i].member) == 0)
            {
                *type = fields[i].type;
                *message = fields[i].message;
                return NGX_DECLINED;
            }
        }

        *type = "SerializationException";
        *message = "the request body is not valid UTF-8 or holds a NUL";

        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the type of member name in an action's list, 0 when it has none */

static u_char
ngx_http_sfn_aws_member_type(const char *members, const char *name)
{
    size_t       len;
    const char  *p;

    len = ngx_strlen(name);

    for (p = members; *p; p++) {
        if (ngx_strncmp(p, name, len) == 0 && p[len] == '=') {
            return p[len + 1];
        }

        p = ngx_strchr(p, ' ');

        if (p == NULL) {
            break;
        }
    }

    return 0;
}


/* 1 when s is one of the values of set ("A, B") */

static ngx_uint_t
ngx_http_sfn_aws_enum_has(const char *set, const char *s)
{
    size_t       len;
    const char  *p;

    len = ngx_strlen(s);

    for (p = set; p; p = ngx_strchr(p, ' ')) {
        p += (*p == ' ');

        if (ngx_strncmp(p, s, len) == 0 && (p[len] == ',' || p[len] == '\0'))
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_sfn_aws_members(ngx_http_sfn_aws_ctx_t *ctx, const char *members)
{
    u_char                    t;
    cJSON                    *c, *next;
    double                    d;
    ngx_uint_t                ok;
    ngx_http_sfn_aws_enum_t  *e;

    for (c = ctx->body->child; c; c = next) {
        next = c->next;

        /* a member that is null is absent, for every action alike */

        if (cJSON_IsNull(c)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(ctx->body, c));
            continue;
        }

        t = ngx_http_sfn_aws_member_type(members, c->string);
        d = c->valuedouble;

        switch (t) {

        case 's':
        case 'e':
            ok = cJSON_IsString(c);
            break;

        case 'i':

            /* a whole number; past 2^63 it is out of range, not a type */

            ok = cJSON_IsNumber(c)
                 && (d <= -9.2e18 || d >= 9.2e18 || d == (double) (int64_t) d);
            break;

        case 'n':
            ok = cJSON_IsNumber(c);
            break;

        case 'b':
            ok = cJSON_IsBool(c);
            break;

        case 'l':
            ok = cJSON_IsArray(c);
            break;

        case 'm':
            ok = cJSON_IsObject(c);
            break;

        default:
            continue;
        }

        if (!ok) {
            return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                            "Unexpected value type for '%s'",
                                            c->string);
        }

        if (t != 'e') {
            continue;
        }

        for (e = ngx_http_sfn_aws_enums; e->member; e++) {
            if (ngx_strcmp(e->member, c->string) == 0
                && !ngx_http_sfn_aws_enum_has(e->values, c->valuestring))
            {
                return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                           "1 validation error detected: Value '%s' at '%s' "
                           "failed to satisfy constraint: Member must "
                           "satisfy enum value set: [%s]",
                           c->valuestring, c->string, e->values);
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_aws_dispatch(ngx_http_request_t *r)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_str_t                  body, target, op;
    const char                *type, *message;
    ngx_table_elt_t           *h;
    ngx_pool_cleanup_t        *cln;
    ngx_http_sfn_aws_op_t     *o;
    ngx_http_sfn_aws_ctx_t    *ctx;
    ngx_http_sfn_loc_conf_t   *slcf;
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = ngx_http_get_module_main_conf(r, ngx_http_sfn_module);
    slcf = ngx_http_get_module_loc_conf(r, ngx_http_sfn_module);

    rc = ngx_http_sfn_body_text(r, NGX_HTTP_SFN_AWS_MAX_BODY, &body);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_fail(r, "ValidationException",
                                     "the request is too large");
    }

    /* credentials before anything else is looked at */

    if (smcf->aws_keys) {
        rc = ngx_http_sfn_auth_sigv4(r, smcf->aws_keys, &body, &type,
                                     &message);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc != NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "sfn aws api: %s", type);
            return ngx_http_sfn_aws_fail(r, type, message);
        }

    } else if (slcf->api_keys
               && ngx_http_sfn_auth_key(r, slcf->api_keys) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "sfn aws api: request without a valid API key");
        return ngx_http_sfn_aws_fail(r, "Unauthorized",
                                     "a valid API key is required "
                                     "(X-Api-Key or Authorization: Bearer)");
    }

    h = ngx_http_sfn_header_in(r, "X-Amz-Target",
                               sizeof("X-Amz-Target") - 1, NULL);

    if (h == NULL) {
        return ngx_http_sfn_aws_fail(r, "UnknownOperationException",
                                     "Missing X-Amz-Target header");
    }

    target = h->value;

    if (target.len <= sizeof("AWSStepFunctions.") - 1
        || ngx_strncmp(target.data, "AWSStepFunctions.",
                       sizeof("AWSStepFunctions.") - 1) != 0)
    {
        return ngx_http_sfn_aws_fail(r, "UnknownOperationException",
                                     "Unknown operation");
    }

    op.data = target.data + sizeof("AWSStepFunctions.") - 1;
    op.len = target.len - (sizeof("AWSStepFunctions.") - 1);

    for (o = ngx_http_sfn_aws_ops; o->handler; o++) {
        if (o->name.len == op.len
            && ngx_strncmp(o->name.data, op.data, op.len) == 0)
        {
            break;
        }
    }

    if (o->handler == NULL) {
        return ngx_http_sfn_aws_fail(r, "UnknownOperationException",
                                     "Unknown operation");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_sfn_aws_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_sfn_aws_cleanup;
    cln->data = ctx;

    ctx->r = r;
    ctx->smcf = smcf;

    /*
     * the SDKs send StartSyncExecution to a "sync-" host: the operation,
     * not the host, decides here
     */

    p = body.data;

    while (p < body.data + body.len && (*p == ' ' || *p == '\t'
                                        || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    if (p == body.data + body.len) {
        ngx_str_set(&body, "{}");
    }

    /*
     * UTF-8 goes through the engine's codec, which keeps an escaped NUL
     * ("\u0000") as C0 80 where cJSON's would end the string early; other
     * bytes are parsed only to say which member holds them
     */

    ctx->body = sfn_utf8_valid((char *) body.data, body.len)
                ? sfn_json_parse((char *) body.data, body.len)
                : cJSON_ParseWithLength((char *) body.data, body.len);

    if (ctx->body == NULL || !cJSON_IsObject(ctx->body)) {
        return ngx_http_sfn_aws_fail(r, "SerializationException",
                                     "the request body is not a JSON "
                                     "object");
    }

    if (ngx_http_sfn_aws_utf8(ctx->body, &type, &message) != NGX_OK) {
        return ngx_http_sfn_aws_fail(r, type, message);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sfn aws api: %V", &op);

    if (o->members && ngx_http_sfn_aws_members(ctx, o->members) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    return o->handler(ctx);
}


static void
ngx_http_sfn_aws_body(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_sfn_aws_dispatch(r);

    if (rc == NGX_DONE) {
        /* a statement or an execution holds the request */
        return;
    }

    ngx_http_finalize_request(r, rc);
}


static void
ngx_http_sfn_aws_cleanup(void *data)
{
    ngx_http_sfn_aws_ctx_t *ctx = data;

    if (ctx->wait) {
        ctx->wait->ctx = NULL;
        ctx->wait = NULL;
    }

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }

    if (ctx->waiting) {
        (void) ngx_http_sfn_exec_on_finish(&ctx->exec_arn, NULL, NULL);
        ctx->waiting = 0;
    }

    if (ctx->body) {
        cJSON_Delete(ctx->body);
        ctx->body = NULL;
    }
}


static void
ngx_http_sfn_aws_query_done(void *data, void *res)
{
    ngx_http_sfn_aws_wait_t *w = data;

    ngx_int_t                 rc;
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_sfn_aws_ctx_t   *ctx;
    ngx_http_sfn_aws_next_pt  next;

    ctx = w->ctx;
    next = w->next;

    ngx_free(w);

    if (ctx == NULL) {
        /* the request went away */
        return;
    }

    ctx->wait = NULL;

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }

    r = ctx->r;
    c = r->connection;

    if (res == NULL) {
        rc = ngx_http_sfn_aws_fail(r, "InternalFailure",
                                   "the database statement failed");

    } else {
        rc = next(ctx, res);
    }

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }

    ngx_http_run_posted_requests(c);
}


/* the database is away: the request is answered, the statement forgotten */

static void
ngx_http_sfn_aws_query_timeout(ngx_event_t *ev)
{
    ngx_http_sfn_aws_ctx_t *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->r;
    c = r->connection;

    ngx_log_error(NGX_LOG_ERR, c->log, 0,
                  "sfn aws api: the database did not answer in time");

    if (ctx->wait) {
        ctx->wait->ctx = NULL;
        ctx->wait = NULL;
    }

    ngx_http_finalize_request(r,
                              ngx_http_sfn_aws_fail(r, "ServiceUnavailable",
                                                    "the database did not "
                                                    "answer in time"));
    ngx_http_run_posted_requests(c);
}


/*
 * Sends a statement; next(ctx, res) runs once its batch has committed and
 * returns the request's status, or NGX_DONE while it waits again.  Without
 * a database next() is called at once with res == NULL.
 */

ngx_int_t
ngx_http_sfn_aws_query(ngx_http_sfn_aws_ctx_t *ctx, const char *sql,
    int nparams, const char **values, ngx_http_sfn_aws_next_pt next)
{
    return ngx_http_sfn_aws_query_x(ctx, sql, NULL, nparams, values, next,
                                    NGX_HTTP_SFN_AWS_WRITER);
}


/* the same with a statement prepared once (the API's frequent reads) */

ngx_int_t
ngx_http_sfn_aws_prepared(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_pg_prepared_t *ps, int nparams, const char **values,
    ngx_http_sfn_aws_next_pt next)
{
    return ngx_http_sfn_aws_query_x(ctx, NULL, ps, nparams, values, next,
                                    NGX_HTTP_SFN_AWS_WRITER);
}


/* and on the reader: what has committed, behind no write of the worker */

ngx_int_t
ngx_http_sfn_aws_read(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_pg_prepared_t *ps, int nparams, const char **values,
    ngx_http_sfn_aws_next_pt next)
{
    return ngx_http_sfn_aws_query_x(ctx, NULL, ps, nparams, values, next,
                                    NGX_HTTP_SFN_AWS_READER);
}


/* the same in a transaction of its own: for what sends NOTIFY */

ngx_int_t
ngx_http_sfn_aws_query_alone(ngx_http_sfn_aws_ctx_t *ctx, const char *sql,
    int nparams, const char **values, ngx_http_sfn_aws_next_pt next)
{
    return ngx_http_sfn_aws_query_x(ctx, sql, NULL, nparams, values, next,
                                    NGX_HTTP_SFN_AWS_ALONE);
}


static ngx_int_t
ngx_http_sfn_aws_query_x(ngx_http_sfn_aws_ctx_t *ctx, const char *sql,
    ngx_http_sfn_pg_prepared_t *ps, int nparams, const char **values,
    ngx_http_sfn_aws_next_pt next, ngx_uint_t via)
{
    ngx_int_t                 rc;
    ngx_http_sfn_aws_wait_t  *w;

    if (ctx->smcf->database.len == 0) {
        return next(ctx, NULL);
    }

    w = ngx_alloc(sizeof(ngx_http_sfn_aws_wait_t), ctx->r->connection->log);
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    w->ctx = ctx;
    w->next = next;

    if (via == NGX_HTTP_SFN_AWS_READER) {
        rc = ngx_http_sfn_pg_read(ps, nparams, values,
                                  ngx_http_sfn_aws_query_done, w);

    } else if (ps) {
        rc = ngx_http_sfn_pg_prepared(ps, nparams, values,
                                      ngx_http_sfn_aws_query_done, w);

    } else if (via == NGX_HTTP_SFN_AWS_ALONE) {
        rc = ngx_http_sfn_pg_query_alone(sql, nparams, values,
                                         ngx_http_sfn_aws_query_done, w);

    } else {
        rc = ngx_http_sfn_pg_query(sql, nparams, values,
                                   ngx_http_sfn_aws_query_done, w);
    }

    if (rc != NGX_OK) {
        ngx_free(w);
        return ngx_http_sfn_aws_fail(ctx->r, "ServiceUnavailable",
                                     "the database queue is full");
    }

    ctx->wait = w;

    ctx->timeout.handler = ngx_http_sfn_aws_query_timeout;
    ctx->timeout.data = ctx;
    ctx->timeout.log = ctx->r->connection->log;

    ngx_add_timer(&ctx->timeout, NGX_HTTP_SFN_AWS_DB_TIMEOUT);

    return NGX_DONE;
}


/* NULL and ctx->type/message set when the definition is invalid */

sfn_machine_t *
ngx_http_sfn_aws_compile(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *definition,
    sfn_type_e type)
{
    size_t          n;
    sfn_diag_t      diag;
    sfn_machine_t  *m;

    m = ngx_http_sfn_machine_load(definition, type, &diag, 1, &n);

    if (m == NULL) {
        (void) ngx_http_sfn_aws_invalid(ctx, "InvalidDefinition",
                   "Invalid State Machine Definition: '%s: %s at %s'",
                   diag.code, diag.message,
                   diag.location[0] ? diag.location : "/");
    }

    return m;
}


/*
 * The role of an API state machine, as its row has it now: a cached
 * revision keeps its definition, not its role, which a recovery compiles
 * without.  Executions take it when they are created.
 */

static ngx_int_t
ngx_http_sfn_aws_machine_role(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_compiled_t *am, PGresult *res)
{
    ngx_str_t  role;

    role.data = (u_char *) PQgetvalue(res, 0, 4);
    role.len = PQgetlength(res, 0, 4);

    if (am->sm.role.len != role.len
        || ngx_strncmp(am->sm.role.data, role.data, role.len) != 0)
    {
        if (ngx_http_sfn_pstr(am->pool, &role, &am->sm.role) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->sm = &am->sm;

    return ctx->found(ctx);
}


/*
 * The row of a state machine, or of one of its versions: type, the key
 * of the compiled copy, the state machine's ARN, the definition unless
 * the cached copy is current, the role, and for a version its ARN and
 * the alias that chose it
 */

ngx_int_t
ngx_http_sfn_aws_machine_loaded(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    u_char                   *key;
    ngx_str_t                 def, k, arn, version;
    sfn_type_e                type;
    sfn_machine_t            *m;
    ngx_http_sfn_compiled_t  *am;

    if (res == NULL || PQntuples(res) == 0) {
        if (ctx->qualifier.data) {
            return ngx_http_sfn_aws_reply_error(ctx, "ResourceNotFound",
                                                "Resource not found: '%V'",
                                                &ctx->arn);
        }

        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    ngx_str_null(&version);

    if (PQnfields(res) > 5 && !PQgetisnull(res, 0, 5)) {
        version.data = (u_char *) PQgetvalue(res, 0, 5);
        version.len = PQgetlength(res, 0, 5);
    }

    /* res goes before the execution may start: the alias is copied */

    if (PQnfields(res) > 6 && !PQgetisnull(res, 0, 6)) {
        ctx->alias.len = PQgetlength(res, 0, 6);
        ctx->alias.data = ngx_http_sfn_aws_cstr(ctx->r->pool,
                                                (u_char *) PQgetvalue(res, 0,
                                                                      6),
                                                ctx->alias.len);
        if (ctx->alias.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    am = ngx_http_sfn_machine_cached(version.len ? &version : &ctx->sm_name);
    key = (u_char *) PQgetvalue(res, 0, 1);

    if (am && am->key.len == ngx_strlen(key)
        && ngx_strncmp(am->key.data, key, am->key.len) == 0)
    {
        return ngx_http_sfn_aws_machine_role(ctx, am, res);
    }

    if (PQgetisnull(res, 0, 3)) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the state machine changed "
                                            "while it was loaded");
    }

    type = (ngx_strcmp(PQgetvalue(res, 0, 0), "EXPRESS") == 0)
           ? SFN_EXPRESS : SFN_STANDARD;

    def.data = (u_char *) PQgetvalue(res, 0, 3);
    def.len = PQgetlength(res, 0, 3);

    m = ngx_http_sfn_aws_compile(ctx, &def, type);
    if (m == NULL) {
        return ngx_http_sfn_aws_error(ctx);
    }

    k.data = key;
    k.len = ngx_strlen(key);
    arn.data = (u_char *) PQgetvalue(res, 0, 2);
    arn.len = PQgetlength(res, 0, 2);

    am = ngx_http_sfn_machine_cache_add(&ctx->sm_name, &arn, &version, &k,
                                        type, m);
    if (am == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_machine_role(ctx, am, res);
}


/* finds ctx->sm_name in nginx.conf or PostgreSQL, then calls found(ctx) */

ngx_int_t
ngx_http_sfn_aws_machine(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_aws_op_pt found)
{
    const char               *values[2];
    ngx_http_sfn_compiled_t  *am;

    ctx->found = found;

    if (ctx->qualifier.data) {
        return ngx_http_sfn_aws_version_machine(ctx);
    }

    ctx->sm = ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name);

    if (ctx->sm) {
        return found(ctx);
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    am = ngx_http_sfn_machine_cached(&ctx->sm_name);

    values[0] = (char *) ctx->sm_name.data;
    values[1] = am ? (char *) am->key.data : "";

    /* the definition travels only when the cached revision is stale */

    return ngx_http_sfn_aws_query(ctx,
               "SELECT type, revision::text || '/' || "
               "extract(epoch FROM updated_at)::text, arn, "
               "CASE WHEN revision::text || '/' || "
               "extract(epoch FROM updated_at)::text = $2 "
               "THEN NULL ELSE definition END, COALESCE(role_arn, '') "
               "FROM sfn_state_machines WHERE name = $1 AND source = 'api'",
               2, values, ngx_http_sfn_aws_machine_loaded);
}


ngx_int_t
ngx_http_sfn_aws_sm_field(ngx_http_sfn_aws_ctx_t *ctx, const char *field)
{
    ngx_str_t  arn;

    if (ngx_http_sfn_aws_field(ctx, field, 1, &arn) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_sfn_aws_sm_named(ctx, &arn);
}


ngx_int_t
ngx_http_sfn_aws_sm_named(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *arn)
{
    ngx_int_t  rc;

    rc = ngx_http_sfn_aws_arn(ctx, arn, 0);

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_invalid(ctx, "StateMachineDoesNotExist",
                                        "State Machine Does Not Exist: '%V'",
                                        arn);
    }

    return rc;
}


ngx_int_t
ngx_http_sfn_aws_exec_field(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  arn;

    if (ngx_http_sfn_aws_field(ctx, "executionArn", 1, &arn) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_sfn_aws_arn(ctx, &arn, 1);

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_invalid(ctx, "ExecutionDoesNotExist",
                                        "Execution Does Not Exist: '%V'",
                                        &arn);
    }

    return rc;
}


/*
 * Pagination is by key: a token is the key of the page's last row (the
 * cursor), after a kind and a tag, in base64url.  The tag is the first
 * bytes of the SHA-1 of the kind, of what the request asks for (the
 * machine and the status, the execution and the order) and of the
 * cursor: a token read back for another question, cut, altered or made
 * up answers InvalidToken.  It is a check, not a signature: nodes share
 * no secret, and a cursor made by hand reads no more than a request may.
 */

#define NGX_HTTP_SFN_AWS_TOKEN_TAG  8
#define NGX_HTTP_SFN_AWS_TOKEN_MAX  1024


static void
ngx_http_sfn_aws_token_tag(u_char kind, ngx_str_t *bind, u_char *cursor,
    size_t len, u_char *tag)
{
    u_char      md[20];
    ngx_sha1_t  sha1;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, &kind, 1);
    ngx_sha1_update(&sha1, bind->data, bind->len);
    ngx_sha1_update(&sha1, "", 1);
    ngx_sha1_update(&sha1, cursor, len);
    ngx_sha1_final(md, &sha1);

    ngx_memcpy(tag, md, NGX_HTTP_SFN_AWS_TOKEN_TAG);
}


ngx_int_t
ngx_http_sfn_aws_page(ngx_http_sfn_aws_ctx_t *ctx, ngx_int_t dflt,
    u_char kind, ngx_str_t *bind)
{
    u_char     tag[NGX_HTTP_SFN_AWS_TOKEN_TAG];
    ngx_str_t  token, raw;

    ctx->limit = dflt;
    ngx_str_null(&ctx->cursor);

    if (ngx_http_sfn_aws_number(ctx, "maxResults", 0,
                                NGX_HTTP_SFN_AWS_MAX_RESULTS, &ctx->limit)
        == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "nextToken", 0, &token) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "nextToken", &token,
                                   NGX_HTTP_SFN_AWS_TOKEN_MAX)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->limit == 0) {
        ctx->limit = dflt;
    }

    if (token.data == NULL) {
        return NGX_OK;
    }

    raw.data = ngx_pnalloc(ctx->r->pool, ngx_base64_decoded_length(token.len));
    if (raw.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(&raw, &token) != NGX_OK
        || raw.len < 1 + NGX_HTTP_SFN_AWS_TOKEN_TAG
        || raw.data[0] != kind)
    {
        goto invalid;
    }

    ctx->cursor.data = raw.data + 1 + NGX_HTTP_SFN_AWS_TOKEN_TAG;
    ctx->cursor.len = raw.len - 1 - NGX_HTTP_SFN_AWS_TOKEN_TAG;

    ngx_http_sfn_aws_token_tag(kind, bind, ctx->cursor.data, ctx->cursor.len,
                               tag);

    if (ngx_memcmp(tag, raw.data + 1, NGX_HTTP_SFN_AWS_TOKEN_TAG) == 0) {
        return NGX_OK;
    }

invalid:

    ngx_str_null(&ctx->cursor);

    return ngx_http_sfn_aws_invalid(ctx, "InvalidToken", "Invalid Token: "
                                    "'the token is not one of this "
                                    "request'");
}


/* a list action's reply: {"member": [...]}, NULL without memory */

cJSON *
ngx_http_sfn_aws_list_reply(const char *member, cJSON **list)
{
    cJSON  *json;

    json = cJSON_CreateObject();
    *list = cJSON_AddArrayToObject(json, member);

    if (*list == NULL) {
        cJSON_Delete(json);
        return NULL;
    }

    return json;
}


/* a name in a cursor: AWS's rule, and UTF-8 as PostgreSQL wants it */

ngx_int_t
ngx_http_sfn_aws_cursor_name(ngx_http_sfn_aws_ctx_t *ctx, u_char *data,
    size_t len, ngx_str_t *name)
{
    u_char    *p, *last;
    uint32_t   u;

    name->data = data;
    name->len = len;

    if (!ngx_http_sfn_aws_name_valid(name)) {
        return NGX_ERROR;
    }

    p = data;
    last = data + len;

    while (p < last) {
        if (*p < 0x80) {
            p++;
            continue;
        }

        u = ngx_utf8_decode(&p, last - p);

        if (u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
            return NGX_ERROR;
        }
    }

    name->data = ngx_http_sfn_aws_cstr(ctx->r->pool, data, len);

    return name->data ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_sfn_aws_next_token(ngx_http_sfn_aws_ctx_t *ctx, cJSON *json,
    u_char kind, ngx_str_t *bind, u_char *cursor, size_t len)
{
    u_char     *p;
    ngx_str_t   raw, token;

    raw.len = 1 + NGX_HTTP_SFN_AWS_TOKEN_TAG + len;
    raw.data = ngx_pnalloc(ctx->r->pool, raw.len);
    token.data = ngx_pnalloc(ctx->r->pool, ngx_base64_encoded_length(raw.len)
                                           + 1);

    if (raw.data == NULL || token.data == NULL) {
        return NGX_ERROR;
    }

    p = raw.data;
    *p++ = kind;
    ngx_http_sfn_aws_token_tag(kind, bind, cursor, len, p);
    p += NGX_HTTP_SFN_AWS_TOKEN_TAG;
    ngx_memcpy(p, cursor, len);

    ngx_encode_base64url(&token, &raw);
    token.data[token.len] = '\0';

    if (cJSON_AddStringToObject(json, "nextToken", (char *) token.data)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
