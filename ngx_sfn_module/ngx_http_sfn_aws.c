
/*
 * Copyright (C) ngx_sfn authors
 *
 * The AWS JSON 1.0 API of Step Functions ("sfn_aws_api"): POST with
 * X-Amz-Target: AWSStepFunctions.<Operation>, so the AWS CLI and SDKs
 * work with --endpoint-url.  Replies and errors have AWS's shapes; dates
 * are epoch seconds.  State machines created here live in PostgreSQL
 * (source 'api') and are compiled on demand into a per-worker cache keyed
 * by revision; those of nginx.conf come first.  Reads that need the
 * database hold the request until their statement's batch has committed.
 */


#include "ngx_http_sfn_module.h"
#include <sfn_task.h>

#include <libpq-fe.h>
#include <sys/random.h>


#define NGX_HTTP_SFN_AWS_MAX_BODY     (2 * 1024 * 1024)
#define NGX_HTTP_SFN_AWS_MAX_RESULTS  1000
#define NGX_HTTP_SFN_AWS_MAX_TAGS     50
#define NGX_HTTP_SFN_AWS_REPLY      2048
#define NGX_HTTP_SFN_AWS_DB_TIMEOUT   10000


typedef struct ngx_http_sfn_aws_ctx_s  ngx_http_sfn_aws_ctx_t;

typedef ngx_int_t (*ngx_http_sfn_aws_op_pt)(ngx_http_sfn_aws_ctx_t *ctx);
typedef ngx_int_t (*ngx_http_sfn_aws_next_pt)(ngx_http_sfn_aws_ctx_t *ctx,
    PGresult *res);


typedef struct {
    ngx_str_t                    name;
    ngx_http_sfn_aws_op_pt       handler;
} ngx_http_sfn_aws_op_t;


/* a statement in flight; it outlives the request if the client goes */
typedef struct {
    ngx_http_sfn_aws_ctx_t      *ctx;
    ngx_http_sfn_aws_next_pt     next;
} ngx_http_sfn_aws_wait_t;


/* a compiled API state machine in this worker */
typedef struct {
    ngx_queue_t                  queue;
    ngx_pool_t                  *pool;
    ngx_str_t                    key;       /* "<revision>/<updated_at>" */
    ngx_http_sfn_machine_t       sm;
} ngx_http_sfn_aws_machine_t;


struct ngx_http_sfn_aws_ctx_s {
    ngx_http_request_t          *r;
    ngx_http_sfn_main_conf_t    *smcf;
    cJSON                       *body;
    ngx_http_sfn_aws_wait_t     *wait;
    ngx_event_t                  timeout;   /* of the wait */
    ngx_http_sfn_aws_op_pt       found;     /* after the machine is known */
    ngx_http_sfn_machine_t      *sm;
    ngx_str_t                    sm_name;
    ngx_str_t                    exec_name;
    ngx_str_t                    exec_arn;  /* the key of its record */
    ngx_str_t                    arn;       /* as the request gave it */
    ngx_str_t                    input;
    const char                  *type;
    u_char                      *message;
    int64_t                      start_ms;
    unsigned                     sync:1;
    unsigned                     named:1;      /* by the caller */
    unsigned                     waiting:1;    /* for a sync execution */
    unsigned                     for_exec:1;
};


static void ngx_http_sfn_aws_body(ngx_http_request_t *r);
static void ngx_http_sfn_aws_cleanup(void *data);

static ngx_int_t ngx_http_sfn_aws_create(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_describe_sm(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_update(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_delete(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_list_sms(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_validate(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_start(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_start_sync(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_describe_exec(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_describe_sm_exec(
    ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_list_execs(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_history(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_stop(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_task_success(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_task_failure(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_query_x(ngx_http_sfn_aws_ctx_t *ctx,
    const char *sql, int nparams, const char **values,
    ngx_http_sfn_aws_next_pt next, ngx_uint_t alone);
static ngx_int_t ngx_http_sfn_aws_heartbeat(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_tag(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_untag(ngx_http_sfn_aws_ctx_t *ctx);
static ngx_int_t ngx_http_sfn_aws_list_tags(ngx_http_sfn_aws_ctx_t *ctx);


static ngx_http_sfn_aws_op_t  ngx_http_sfn_aws_ops[] = {
    { ngx_string("CreateStateMachine"), ngx_http_sfn_aws_create },
    { ngx_string("DescribeStateMachine"), ngx_http_sfn_aws_describe_sm },
    { ngx_string("UpdateStateMachine"), ngx_http_sfn_aws_update },
    { ngx_string("DeleteStateMachine"), ngx_http_sfn_aws_delete },
    { ngx_string("ListStateMachines"), ngx_http_sfn_aws_list_sms },
    { ngx_string("ValidateStateMachineDefinition"),
      ngx_http_sfn_aws_validate },
    { ngx_string("StartExecution"), ngx_http_sfn_aws_start },
    { ngx_string("StartSyncExecution"), ngx_http_sfn_aws_start_sync },
    { ngx_string("DescribeExecution"), ngx_http_sfn_aws_describe_exec },
    { ngx_string("DescribeStateMachineForExecution"),
      ngx_http_sfn_aws_describe_sm_exec },
    { ngx_string("ListExecutions"), ngx_http_sfn_aws_list_execs },
    { ngx_string("GetExecutionHistory"), ngx_http_sfn_aws_history },
    { ngx_string("StopExecution"), ngx_http_sfn_aws_stop },
    { ngx_string("SendTaskSuccess"), ngx_http_sfn_aws_task_success },
    { ngx_string("SendTaskFailure"), ngx_http_sfn_aws_task_failure },
    { ngx_string("SendTaskHeartbeat"), ngx_http_sfn_aws_heartbeat },
    { ngx_string("TagResource"), ngx_http_sfn_aws_tag },
    { ngx_string("UntagResource"), ngx_http_sfn_aws_untag },
    { ngx_string("ListTagsForResource"), ngx_http_sfn_aws_list_tags },
    { ngx_null_string, NULL }
};


static ngx_queue_t  ngx_http_sfn_aws_machines;
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


static ngx_int_t
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

static ngx_int_t
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


static ngx_int_t
ngx_http_sfn_aws_error(ngx_http_sfn_aws_ctx_t *ctx)
{
    if (ctx->message == NULL) {
        return ngx_http_sfn_aws_fail(ctx->r, "InternalFailure",
                                     "internal failure");
    }

    return ngx_http_sfn_aws_fail(ctx->r, ctx->type, (char *) ctx->message);
}


static ngx_int_t
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

static ngx_int_t
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


static ngx_int_t
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

    if (item->valuedouble < min || item->valuedouble > max) {
        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                   "1 validation error detected: Value '%d' at '%s' failed "
                   "to satisfy constraint: Member must have value between "
                   "%i and %i", item->valueint, name, min, max);
    }

    *n = (ngx_int_t) item->valuedouble;

    return NGX_OK;
}


static ngx_int_t
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


/* AWS's rule for names of state machines and executions */

static ngx_int_t
ngx_http_sfn_aws_name_valid(ngx_str_t *name)
{
    u_char  *p, *last;

    if (name->len == 0 || name->len > NGX_HTTP_SFN_NAME_LEN) {
        return 0;
    }

    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        if (*p <= 0x20 || *p == 0x7f
            || ngx_strchr("<>{}[]?*\"#%\\^|~`$&,;:/", *p))
        {
            return 0;
        }
    }

    return 1;
}


static u_char *
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
 * NGX_DECLINED: well formed, but of another region or account.
 */

static ngx_int_t
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

    } else if (n != 7 || f[5].len != 12
               || ngx_strncmp(f[5].data, "stateMachine", 12) != 0)
    {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                   "Invalid Arn: 'Resource type not valid in this context: "
                   "%V'", &f[5]);
    }

    if (f[6].len == 0 || (exec && f[7].len == 0)) {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                                        "Invalid Arn: '%V'", arn);
    }

    ctx->sm_name.data = ngx_http_sfn_aws_cstr(ctx->r->pool, f[6].data,
                                              f[6].len);
    ctx->sm_name.len = f[6].len;

    if (exec) {
        ctx->exec_name.data = ngx_http_sfn_aws_cstr(ctx->r->pool, f[7].data,
                                                    f[7].len);
        ctx->exec_name.len = f[7].len;
    }

    if (ctx->sm_name.data == NULL || (exec && ctx->exec_name.data == NULL)) {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    if (f[3].len != ctx->smcf->region.len
        || ngx_strncmp(f[3].data, ctx->smcf->region.data, f[3].len) != 0
        || f[4].len != ctx->smcf->account.len
        || ngx_strncmp(f[4].data, ctx->smcf->account.data, f[4].len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static u_char *
ngx_http_sfn_aws_exec_arn(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *sm,
    ngx_str_t *name)
{
    ngx_str_t  arn;

    return ngx_http_sfn_exec_arn(ctx->smcf, sm, name, ctx->r->pool, &arn);
}


/* the execution's ARN as this node spells it: the key of its record */

static ngx_str_t *
ngx_http_sfn_aws_exec_key(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *sm)
{
    if (ctx->exec_arn.data == NULL
        && ngx_http_sfn_exec_arn(ctx->smcf, sm, &ctx->exec_name,
                                 ctx->r->pool, &ctx->exec_arn)
           == NULL)
    {
        return NULL;
    }

    return &ctx->exec_arn;
}


static u_char *
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


static double
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

    ctx->body = cJSON_ParseWithLength((char *) body.data, body.len);

    if (ctx->body == NULL || !cJSON_IsObject(ctx->body)) {
        return ngx_http_sfn_aws_fail(r, "SerializationException",
                                     "the request body is not a JSON "
                                     "object");
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sfn aws api: %V", &op);

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

static ngx_int_t
ngx_http_sfn_aws_query(ngx_http_sfn_aws_ctx_t *ctx, const char *sql,
    int nparams, const char **values, ngx_http_sfn_aws_next_pt next)
{
    return ngx_http_sfn_aws_query_x(ctx, sql, nparams, values, next, 0);
}


/* the same in a transaction of its own: for what sends NOTIFY */

static ngx_int_t
ngx_http_sfn_aws_query_alone(ngx_http_sfn_aws_ctx_t *ctx, const char *sql,
    int nparams, const char **values, ngx_http_sfn_aws_next_pt next)
{
    return ngx_http_sfn_aws_query_x(ctx, sql, nparams, values, next, 1);
}


static ngx_int_t
ngx_http_sfn_aws_query_x(ngx_http_sfn_aws_ctx_t *ctx, const char *sql,
    int nparams, const char **values, ngx_http_sfn_aws_next_pt next,
    ngx_uint_t alone)
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

    rc = alone ? ngx_http_sfn_pg_query_alone(sql, nparams, values,
                                             ngx_http_sfn_aws_query_done, w)
               : ngx_http_sfn_pg_query(sql, nparams, values,
                                       ngx_http_sfn_aws_query_done, w);

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


/* state machines from PostgreSQL, compiled once per revision */

static int
ngx_http_sfn_aws_resource_known(void *data, const char *resource)
{
    return sfn_task_find(resource) != NULL;
}


static void
ngx_http_sfn_aws_express_check(void *data, const char *resource)
{
    ngx_uint_t *bad = data;

    size_t  len;

    len = ngx_strlen(resource);

    if ((len > 5 && ngx_strcmp(resource + len - 5, ".sync") == 0)
        || (len > 17
            && ngx_strcmp(resource + len - 17, ".waitForTaskToken") == 0))
    {
        *bad = 1;
    }
}


/* loads and validates a definition; NULL with diag filled when invalid */

static sfn_machine_t *
ngx_http_sfn_aws_load(ngx_str_t *definition, sfn_type_e type,
    sfn_diag_t *diag)
{
    ngx_uint_t      bad;
    sfn_machine_t  *m;

    m = sfn_machine_load((char *) definition->data, definition->len,
                         ngx_http_sfn_aws_resource_known, NULL, diag);

    if (m == NULL || type != SFN_EXPRESS) {
        return m;
    }

    bad = 0;
    sfn_machine_resources(m, ngx_http_sfn_aws_express_check, &bad);

    if (!bad) {
        return m;
    }

    sfn_machine_free(m);

    ngx_memzero(diag, sizeof(sfn_diag_t));
    ngx_cpystrn((u_char *) diag->code, (u_char *) "SCHEMA_VALIDATION_FAILED",
                sizeof(diag->code));
    ngx_cpystrn((u_char *) diag->location, (u_char *) "/States",
                sizeof(diag->location));
    ngx_cpystrn((u_char *) diag->message,
                (u_char *) "Express state machines do not support '.sync' "
                "or '.waitForTaskToken' service integrations",
                sizeof(diag->message));

    return NULL;
}


/* NULL and ctx->type/message set when the definition is invalid */

static sfn_machine_t *
ngx_http_sfn_aws_compile(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *definition,
    sfn_type_e type)
{
    sfn_diag_t      diag;
    sfn_machine_t  *m;

    m = ngx_http_sfn_aws_load(definition, type, &diag);

    if (m == NULL) {
        (void) ngx_http_sfn_aws_invalid(ctx, "InvalidDefinition",
                   "Invalid State Machine Definition: '%s: %s at %s'",
                   diag.code, diag.message,
                   diag.location[0] ? diag.location : "/");
    }

    return m;
}


static void
ngx_http_sfn_aws_machine_cleanup(void *data)
{
    sfn_machine_t  *m = data;

    sfn_machine_free(m);
}


static ngx_http_sfn_aws_machine_t *
ngx_http_sfn_aws_cached(ngx_str_t *name)
{
    ngx_queue_t                 *q;
    ngx_http_sfn_aws_machine_t  *am;

    if (ngx_http_sfn_aws_machines.next == NULL) {
        ngx_queue_init(&ngx_http_sfn_aws_machines);
    }

    for (q = ngx_queue_head(&ngx_http_sfn_aws_machines);
         q != ngx_queue_sentinel(&ngx_http_sfn_aws_machines);
         q = ngx_queue_next(q))
    {
        am = ngx_queue_data(q, ngx_http_sfn_aws_machine_t, queue);

        if (am->sm.name.len == name->len
            && ngx_strncmp(am->sm.name.data, name->data, name->len) == 0)
        {
            return am;
        }
    }

    return NULL;
}


/*
 * Adds a compiled revision to this worker's cache, taking m.  The revision
 * it replaces is not freed: executions of this worker may still run it; it
 * goes with the worker.
 */

static ngx_http_sfn_aws_machine_t *
ngx_http_sfn_aws_cache_add(ngx_str_t *name, ngx_str_t *arn, ngx_str_t *key,
    sfn_type_e type, sfn_machine_t *m)
{
    ngx_pool_t                  *pool;
    ngx_pool_cleanup_t          *cln;
    ngx_http_sfn_aws_machine_t  *am, *old;

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        sfn_machine_free(m);
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        sfn_machine_free(m);
        ngx_destroy_pool(pool);
        return NULL;
    }

    cln->handler = ngx_http_sfn_aws_machine_cleanup;
    cln->data = m;

    am = ngx_pcalloc(pool, sizeof(ngx_http_sfn_aws_machine_t));
    if (am == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    am->pool = pool;
    am->sm.machine = m;
    am->sm.type = type;
    am->key.len = key->len;
    am->key.data = ngx_http_sfn_aws_cstr(pool, key->data, key->len);
    am->sm.name.len = name->len;
    am->sm.name.data = ngx_http_sfn_aws_cstr(pool, name->data, name->len);
    am->sm.arn.len = arn->len;
    am->sm.arn.data = ngx_http_sfn_aws_cstr(pool, arn->data, arn->len);

    if (am->key.data == NULL || am->sm.name.data == NULL
        || am->sm.arn.data == NULL)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    old = ngx_http_sfn_aws_cached(name);

    if (old) {
        ngx_queue_remove(&old->queue);
    }

    ngx_queue_insert_head(&ngx_http_sfn_aws_machines, &am->queue);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "sfn aws api: state machine \"%V\" revision %V compiled",
                   &am->sm.name, &am->key);

    return am;
}


/*
 * The compiled definition of an API state machine at revision key (as
 * revision::text || '/' || extract(epoch FROM updated_at)::text), from this
 * worker's cache, else compiled from definition (NULL: the cache only).
 * For the execution driver's recovery, which finds only nginx.conf's
 * state machines with ngx_http_sfn_machine_find().
 */

ngx_http_sfn_machine_t *
ngx_http_sfn_aws_machine_get(ngx_str_t *name, ngx_str_t *arn, ngx_str_t *key,
    sfn_type_e type, ngx_str_t *definition, ngx_log_t *log)
{
    sfn_diag_t                   diag;
    sfn_machine_t               *m;
    ngx_http_sfn_aws_machine_t  *am;

    am = ngx_http_sfn_aws_cached(name);

    if (am && am->key.len == key->len
        && ngx_strncmp(am->key.data, key->data, key->len) == 0)
    {
        return &am->sm;
    }

    if (definition == NULL) {
        return NULL;
    }

    m = ngx_http_sfn_aws_load(definition, type, &diag);

    if (m == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "sfn state machine \"%V\": %s: %s", name, diag.code,
                      diag.message);
        return NULL;
    }

    am = ngx_http_sfn_aws_cache_add(name, arn, key, type, m);

    return am ? &am->sm : NULL;
}


static ngx_int_t
ngx_http_sfn_aws_machine_loaded(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    u_char                      *key;
    ngx_str_t                    def, k, arn;
    sfn_type_e                   type;
    sfn_machine_t               *m;
    ngx_http_sfn_aws_machine_t  *am;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    am = ngx_http_sfn_aws_cached(&ctx->sm_name);
    key = (u_char *) PQgetvalue(res, 0, 1);

    if (am && am->key.len == ngx_strlen(key)
        && ngx_strncmp(am->key.data, key, am->key.len) == 0)
    {
        ctx->sm = &am->sm;
        return ctx->found(ctx);
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

    am = ngx_http_sfn_aws_cache_add(&ctx->sm_name, &arn, &k, type, m);
    if (am == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->sm = &am->sm;

    return ctx->found(ctx);
}


/* finds ctx->sm_name in nginx.conf or PostgreSQL, then calls found(ctx) */

static ngx_int_t
ngx_http_sfn_aws_machine(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_aws_op_pt found)
{
    const char                  *values[2];
    ngx_http_sfn_aws_machine_t  *am;

    ctx->found = found;
    ctx->sm = ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name);

    if (ctx->sm) {
        return found(ctx);
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    am = ngx_http_sfn_aws_cached(&ctx->sm_name);

    values[0] = (char *) ctx->sm_name.data;
    values[1] = am ? (char *) am->key.data : "";

    /* the definition travels only when the cached revision is stale */

    return ngx_http_sfn_aws_query(ctx,
               "SELECT type, revision::text || '/' || "
               "extract(epoch FROM updated_at)::text, arn, "
               "CASE WHEN revision::text || '/' || "
               "extract(epoch FROM updated_at)::text = $2 "
               "THEN NULL ELSE definition END "
               "FROM sfn_state_machines WHERE name = $1 AND source = 'api'",
               2, values, ngx_http_sfn_aws_machine_loaded);
}


static ngx_int_t
ngx_http_sfn_aws_sm_field(ngx_http_sfn_aws_ctx_t *ctx, const char *field)
{
    ngx_int_t  rc;
    ngx_str_t  arn;

    if (ngx_http_sfn_aws_field(ctx, field, 1, &arn) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_sfn_aws_arn(ctx, &arn, 0);

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_invalid(ctx, "StateMachineDoesNotExist",
                                        "State Machine Does Not Exist: '%V'",
                                        &arn);
    }

    return rc;
}


static ngx_int_t
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


/* tags: [{"key","value"}] in requests, a JSON object in the table */

static char *
ngx_http_sfn_aws_tags(ngx_http_sfn_aws_ctx_t *ctx, cJSON *tags)
{
    char   *text;
    cJSON  *obj, *tag, *k, *v;
    u_char *p;

    obj = cJSON_CreateObject();
    if (obj == NULL) {
        (void) ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
        return NULL;
    }

    if (tags && !cJSON_IsArray(tags)) {
        cJSON_Delete(obj);
        (void) ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for 'tags'");
        return NULL;
    }

    if (cJSON_GetArraySize(tags) > NGX_HTTP_SFN_AWS_MAX_TAGS) {
        cJSON_Delete(obj);
        (void) ngx_http_sfn_aws_invalid(ctx, "TooManyTags",
                                        "Too many tags: at most %d",
                                        NGX_HTTP_SFN_AWS_MAX_TAGS);
        return NULL;
    }

    cJSON_ArrayForEach(tag, tags) {
        k = cJSON_GetObjectItemCaseSensitive(tag, "key");
        v = cJSON_GetObjectItemCaseSensitive(tag, "value");

        if (!cJSON_IsString(k) || k->valuestring[0] == '\0'
            || ngx_strlen(k->valuestring) > 128
            || (v && !cJSON_IsString(v))
            || (v && ngx_strlen(v->valuestring) > 256))
        {
            cJSON_Delete(obj);
            (void) ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                       "1 validation error detected: a tag needs a key of "
                       "1 to 128 characters and a value of up to 256");
            return NULL;
        }

        cJSON_DeleteItemFromObjectCaseSensitive(obj, k->valuestring);
        cJSON_AddStringToObject(obj, k->valuestring,
                                v ? v->valuestring : "");
    }

    text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);

    if (text == NULL) {
        (void) ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
        return NULL;
    }

    p = ngx_http_sfn_aws_cstr(ctx->r->pool, (u_char *) text,
                              ngx_strlen(text));
    cJSON_free(text);

    if (p == NULL) {
        (void) ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    return (char *) p;
}


/* CreateStateMachine */

static ngx_int_t
ngx_http_sfn_aws_create_existing(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON     *json;
    u_char    *arn;
    ngx_str_t  def, role, type;

    arn = ngx_http_sfn_aws_sm_arn(ctx, &ctx->sm_name);

    if (arn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the state machine vanished");
    }

    /* the same request again is answered as the first time was */

    (void) ngx_http_sfn_aws_field(ctx, "definition", 0, &def);
    (void) ngx_http_sfn_aws_field(ctx, "roleArn", 0, &role);

    if (ngx_http_sfn_aws_field(ctx, "type", 0, &type) != NGX_OK) {
        ngx_str_set(&type, "STANDARD");
    }

    if (ngx_strcmp(PQgetvalue(res, 0, 0), def.data) != 0
        || PQgetisnull(res, 0, 1)
        || ngx_strcmp(PQgetvalue(res, 0, 1), role.data) != 0
        || ngx_strcmp(PQgetvalue(res, 0, 2), type.data) != 0
        || ngx_strcmp(PQgetvalue(res, 0, 3), "api") != 0)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineAlreadyExists",
                                            "State Machine Already Exists: "
                                            "'%s'", arn);
    }

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddStringToObject(json, "stateMachineArn", (char *) arn);
    cJSON_AddNumberToObject(json, "creationDate",
                            ngx_http_sfn_aws_epoch(res, 0, 4));

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_created(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON       *json;
    const char  *values[1];

    if (res == NULL || PQntuples(res) == 0) {
        values[0] = (char *) ctx->sm_name.data;

        return ngx_http_sfn_aws_query(ctx,
                   "SELECT definition, role_arn, type, source, "
                   "extract(epoch FROM created_at) "
                   "FROM sfn_state_machines WHERE name = $1",
                   1, values, ngx_http_sfn_aws_create_existing);
    }

    ngx_log_error(NGX_LOG_INFO, ctx->r->connection->log, 0,
                  "sfn aws api: state machine \"%V\" created",
                  &ctx->sm_name);

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddStringToObject(json, "stateMachineArn", PQgetvalue(res, 0, 0));
    cJSON_AddNumberToObject(json, "creationDate",
                            ngx_http_sfn_aws_epoch(res, 0, 1));

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_create(ngx_http_sfn_aws_ctx_t *ctx)
{
    char           *tags;
    u_char         *arn;
    ngx_str_t       name, def, role, type;
    sfn_type_e      t;
    const char     *values[6];
    sfn_machine_t  *m;

    if (ngx_http_sfn_aws_field(ctx, "name", 1, &name) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "definition", 1, &def) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "roleArn", 1, &role) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "type", 0, &type) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "definition", &def, 1024 * 1024)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (!ngx_http_sfn_aws_name_valid(&name)) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidName",
                                            "Invalid Name: '%V'", &name);
    }

    if (role.len < 4 || ngx_strncmp(role.data, "arn:", 4) != 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidArn",
                                            "Invalid Arn: 'Invalid ARN "
                                            "prefix: %V'", &role);
    }

    t = SFN_STANDARD;

    if (type.data == NULL || ngx_strcmp(type.data, "STANDARD") == 0) {
        ngx_str_set(&type, "STANDARD");

    } else if (ngx_strcmp(type.data, "EXPRESS") == 0) {
        t = SFN_EXPRESS;

    } else {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "1 validation error detected: Value '%V' at 'type' "
                   "failed to satisfy constraint: Member must satisfy enum "
                   "value set: [STANDARD, EXPRESS]", &type);
    }

    m = ngx_http_sfn_aws_compile(ctx, &def, t);
    if (m == NULL) {
        return ngx_http_sfn_aws_error(ctx);
    }

    sfn_machine_free(m);

    tags = ngx_http_sfn_aws_tags(ctx,
                        cJSON_GetObjectItemCaseSensitive(ctx->body, "tags"));
    if (tags == NULL) {
        return ngx_http_sfn_aws_error(ctx);
    }

    ctx->sm_name = name;
    ctx->arn.data = NULL;

    arn = ngx_http_sfn_aws_sm_arn(ctx, &name);
    if (arn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_sfn_machine_find(ctx->smcf, &name)) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineAlreadyExists",
                                            "State Machine Already Exists: "
                                            "'%s'", arn);
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "state machines are created through the API only with "
                   "sfn_database");
    }

    values[0] = (char *) name.data;
    values[1] = (char *) arn;
    values[2] = (char *) type.data;
    values[3] = (char *) def.data;
    values[4] = (char *) role.data;
    values[5] = tags;

    return ngx_http_sfn_aws_query(ctx,
               "INSERT INTO sfn_state_machines "
               "(name, arn, type, definition, source, role_arn, tags) "
               "VALUES ($1, $2, $3, $4, 'api', $5, $6::jsonb) "
               "ON CONFLICT (name) DO NOTHING "
               "RETURNING arn, extract(epoch FROM created_at)",
               6, values, ngx_http_sfn_aws_created);
}


/* DescribeStateMachine, DescribeStateMachineForExecution */

static cJSON *
ngx_http_sfn_aws_sm_json(ngx_http_sfn_aws_ctx_t *ctx, const char *arn,
    const char *name, const char *type, const char *definition,
    const char *role, double created, double updated, const char *revision)
{
    cJSON  *json, *item;

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NULL;
    }

    cJSON_AddStringToObject(json, "stateMachineArn", arn);
    cJSON_AddStringToObject(json, "name", name);

    if (!ctx->for_exec) {
        cJSON_AddStringToObject(json, "status", "ACTIVE");
    }

    cJSON_AddStringToObject(json, "definition", definition);

    if (role) {
        cJSON_AddStringToObject(json, "roleArn", role);
    }

    if (ctx->for_exec) {
        cJSON_AddNumberToObject(json, "updateDate", updated);

    } else {
        cJSON_AddStringToObject(json, "type", type);
        cJSON_AddNumberToObject(json, "creationDate", created);
    }

    if (revision) {
        cJSON_AddStringToObject(json, "revisionId", revision);
    }

    item = cJSON_AddObjectToObject(json, "loggingConfiguration");
    if (item) {
        cJSON_AddStringToObject(item, "level", "OFF");
        cJSON_AddBoolToObject(item, "includeExecutionData", 0);
    }

    item = cJSON_AddObjectToObject(json, "tracingConfiguration");
    if (item) {
        cJSON_AddBoolToObject(item, "enabled", 0);
    }

    return json;
}


static ngx_int_t
ngx_http_sfn_aws_described(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON                   *json;
    ngx_http_sfn_machine_t  *sm;

    sm = ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name);

    if (res && PQntuples(res)
        && (sm || ngx_strcmp(PQgetvalue(res, 0, 6), "api") == 0))
    {
        json = ngx_http_sfn_aws_sm_json(ctx, PQgetvalue(res, 0, 0),
                                        PQgetvalue(res, 0, 1),
                                        PQgetvalue(res, 0, 2),
                                        PQgetvalue(res, 0, 3),
                                        PQgetisnull(res, 0, 4)
                                        ? NULL : PQgetvalue(res, 0, 4),
                                        ngx_http_sfn_aws_epoch(res, 0, 5),
                                        ngx_http_sfn_aws_epoch(res, 0, 7),
                                        PQgetvalue(res, 0, 8));

    } else if (sm) {
        json = ngx_http_sfn_aws_sm_json(ctx, (char *) sm->arn.data,
                                        (char *) sm->name.data,
                                        sm->type == SFN_EXPRESS
                                        ? "EXPRESS" : "STANDARD",
                                        (char *) sm->definition.data, NULL,
                                        0, 0, NULL);

    } else {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_describe_name(ngx_http_sfn_aws_ctx_t *ctx)
{
    const char  *values[1];

    values[0] = (char *) ctx->sm_name.data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT arn, name, type, definition, role_arn, "
               "extract(epoch FROM created_at), source, "
               "extract(epoch FROM updated_at), revision::text "
               "FROM sfn_state_machines WHERE name = $1",
               1, values, ngx_http_sfn_aws_described);
}


static ngx_int_t
ngx_http_sfn_aws_describe_sm(ngx_http_sfn_aws_ctx_t *ctx)
{
    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    return ngx_http_sfn_aws_describe_name(ctx);
}


static ngx_int_t
ngx_http_sfn_aws_exec_exists(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionDoesNotExist",
                                            "Execution Does Not Exist: '%V'",
                                            &ctx->arn);
    }

    return ngx_http_sfn_aws_describe_name(ctx);
}


static ngx_int_t
ngx_http_sfn_aws_describe_sm_exec(ngx_http_sfn_aws_ctx_t *ctx)
{
    u_char                 *arn;
    ngx_str_t              *key;
    const char             *values[1];
    ngx_http_sfn_record_t   rec;

    if (ngx_http_sfn_aws_exec_field(ctx) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    ctx->for_exec = 1;

    key = ngx_http_sfn_aws_exec_key(ctx, &ctx->sm_name);
    if (key == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_sfn_shm_get(ctx->smcf, key, ctx->r->pool, &rec) == NGX_OK) {
        return ngx_http_sfn_aws_describe_name(ctx);
    }

    arn = ngx_http_sfn_aws_exec_arn(ctx, &ctx->sm_name, &ctx->exec_name);
    if (arn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = (char *) arn;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT 1 FROM sfn_executions WHERE arn = $1",
               1, values, ngx_http_sfn_aws_exec_exists);
}


/* UpdateStateMachine */

static ngx_int_t
ngx_http_sfn_aws_updated(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON  *json;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddNumberToObject(json, "updateDate",
                            ngx_http_sfn_aws_epoch(res, 0, 0));
    cJSON_AddStringToObject(json, "revisionId", PQgetvalue(res, 0, 1));

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_update_check(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    ngx_str_t       def, role;
    const char     *values[4];
    sfn_machine_t  *m;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    (void) ngx_http_sfn_aws_field(ctx, "definition", 0, &def);
    (void) ngx_http_sfn_aws_field(ctx, "roleArn", 0, &role);

    if (def.data) {
        m = ngx_http_sfn_aws_compile(ctx, &def,
                                     ngx_strcmp(PQgetvalue(res, 0, 0),
                                                "EXPRESS") == 0
                                     ? SFN_EXPRESS : SFN_STANDARD);
        if (m == NULL) {
            return ngx_http_sfn_aws_error(ctx);
        }

        sfn_machine_free(m);
    }

    values[0] = (char *) ctx->sm_name.data;
    values[1] = (char *) def.data;
    values[2] = (char *) role.data;
    values[3] = PQgetvalue(res, 0, 1);

    /* the revision read above fences a concurrent update */

    return ngx_http_sfn_aws_query(ctx,
               "UPDATE sfn_state_machines SET "
               "definition = COALESCE($2, definition), "
               "role_arn = COALESCE($3, role_arn), "
               "revision = revision + 1, updated_at = now() "
               "WHERE name = $1 AND source = 'api' "
               "AND revision = $4::bigint "
               "RETURNING extract(epoch FROM updated_at), revision::text",
               4, values, ngx_http_sfn_aws_updated);
}


static ngx_int_t
ngx_http_sfn_aws_update(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t    def, role;
    const char  *values[1];

    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "definition", 0, &def) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "roleArn", 0, &role) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "definition", &def, 1024 * 1024)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (def.data == NULL && role.data == NULL
        && cJSON_GetObjectItemCaseSensitive(ctx->body, "loggingConfiguration")
           == NULL
        && cJSON_GetObjectItemCaseSensitive(ctx->body, "tracingConfiguration")
           == NULL)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "MissingRequiredParameter",
                   "Either the definition, the roleArn, the "
                   "loggingConfiguration or the tracingConfiguration must "
                   "be specified");
    }

    if (role.data && (role.len < 4 || ngx_strncmp(role.data, "arn:", 4))) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidArn",
                                            "Invalid Arn: 'Invalid ARN "
                                            "prefix: %V'", &role);
    }

    if (ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name)) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "state machine '%V' is defined in nginx.conf and cannot "
                   "be changed through the API", &ctx->sm_name);
    }

    values[0] = (char *) ctx->sm_name.data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT type, revision::text FROM sfn_state_machines "
               "WHERE name = $1 AND source = 'api'",
               1, values, ngx_http_sfn_aws_update_check);
}


/* DeleteStateMachine */

static ngx_int_t
ngx_http_sfn_aws_deleted(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    ngx_http_sfn_aws_machine_t  *am;

    am = ngx_http_sfn_aws_cached(&ctx->sm_name);

    if (am) {
        /* kept for the executions that still run it */
        ngx_queue_remove(&am->queue);
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, cJSON_CreateObject());
}


static ngx_int_t
ngx_http_sfn_aws_delete(ngx_http_sfn_aws_ctx_t *ctx)
{
    const char  *values[1];

    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name)) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "state machine '%V' is defined in nginx.conf and cannot "
                   "be deleted through the API", &ctx->sm_name);
    }

    values[0] = (char *) ctx->sm_name.data;

    return ngx_http_sfn_aws_query(ctx,
               "DELETE FROM sfn_state_machines "
               "WHERE name = $1 AND source = 'api'",
               1, values, ngx_http_sfn_aws_deleted);
}


/* pagination: the token is the offset, as AWS's are opaque */

static ngx_int_t
ngx_http_sfn_aws_page(ngx_http_sfn_aws_ctx_t *ctx, ngx_int_t dflt,
    ngx_int_t *limit, ngx_int_t *offset)
{
    ngx_str_t  token;

    *limit = dflt;
    *offset = 0;

    if (ngx_http_sfn_aws_number(ctx, "maxResults", 0,
                                NGX_HTTP_SFN_AWS_MAX_RESULTS, limit)
        == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "nextToken", 0, &token) == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    if (*limit == 0) {
        *limit = dflt;
    }

    if (token.data == NULL) {
        return NGX_OK;
    }

    if (token.len < 5 || ngx_strncmp(token.data, "sfn1.", 5) != 0
        || (*offset = ngx_atoi(token.data + 5, token.len - 5)) == NGX_ERROR)
    {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidToken",
                                        "Invalid Token: '%V'", &token);
    }

    return NGX_OK;
}


static void
ngx_http_sfn_aws_next_token(cJSON *json, ngx_int_t offset)
{
    u_char  buf[NGX_INT_T_LEN + 8];

    *ngx_sprintf(buf, "sfn1.%i", offset) = '\0';

    cJSON_AddStringToObject(json, "nextToken", (char *) buf);
}


/* ListStateMachines */

static ngx_int_t
ngx_http_sfn_aws_listed_sms(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    int                      i, n;
    cJSON                   *json, *list, *item;
    ngx_str_t                name;
    ngx_int_t                limit, offset;
    ngx_uint_t               k;
    ngx_http_sfn_machine_t  *sm;

    (void) ngx_http_sfn_aws_page(ctx, 100, &limit, &offset);

    json = cJSON_CreateObject();
    list = cJSON_AddArrayToObject(json, "stateMachines");

    if (json == NULL || list == NULL) {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (res == NULL) {
        /* no database: those of nginx.conf */

        sm = ctx->smcf->machines.elts;

        for (k = offset; k < ctx->smcf->machines.nelts
                         && k < (ngx_uint_t) (offset + limit); k++)
        {
            item = cJSON_CreateObject();
            cJSON_AddItemToArray(list, item);
            cJSON_AddStringToObject(item, "stateMachineArn",
                                    (char *) sm[k].arn.data);
            cJSON_AddStringToObject(item, "name", (char *) sm[k].name.data);
            cJSON_AddStringToObject(item, "type", sm[k].type == SFN_EXPRESS
                                                  ? "EXPRESS" : "STANDARD");
            cJSON_AddNumberToObject(item, "creationDate", 0);
        }

        if (k < ctx->smcf->machines.nelts) {
            ngx_http_sfn_aws_next_token(json, k);
        }

        return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
    }

    n = PQntuples(res);

    for (i = 0; i < n && i < limit; i++) {
        name.data = (u_char *) PQgetvalue(res, i, 1);
        name.len = PQgetlength(res, i, 1);

        /* a row left by an nginx.conf that no longer names it */

        if (ngx_strcmp(PQgetvalue(res, i, 4), "config") == 0
            && ngx_http_sfn_machine_find(ctx->smcf, &name) == NULL)
        {
            continue;
        }

        item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "stateMachineArn",
                                PQgetvalue(res, i, 0));
        cJSON_AddStringToObject(item, "name", PQgetvalue(res, i, 1));
        cJSON_AddStringToObject(item, "type", PQgetvalue(res, i, 2));
        cJSON_AddNumberToObject(item, "creationDate",
                                ngx_http_sfn_aws_epoch(res, i, 3));
    }

    if (n > limit) {
        ngx_http_sfn_aws_next_token(json, offset + limit);
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_list_sms(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t    limit, offset;
    const char  *values[2];
    u_char       lim[NGX_INT_T_LEN + 1], off[NGX_INT_T_LEN + 1];

    if (ngx_http_sfn_aws_page(ctx, 100, &limit, &offset) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    *ngx_sprintf(lim, "%i", limit + 1) = '\0';
    *ngx_sprintf(off, "%i", offset) = '\0';

    values[0] = (char *) lim;
    values[1] = (char *) off;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT arn, name, type, extract(epoch FROM created_at), "
               "source FROM sfn_state_machines ORDER BY name "
               "LIMIT $1::bigint OFFSET $2::bigint",
               2, values, ngx_http_sfn_aws_listed_sms);
}


/* ValidateStateMachineDefinition */

static ngx_int_t
ngx_http_sfn_aws_validate(ngx_http_sfn_aws_ctx_t *ctx)
{
    cJSON          *json, *list, *d;
    ngx_str_t       def, type;
    sfn_diag_t      diag;
    sfn_machine_t  *m;

    if (ngx_http_sfn_aws_field(ctx, "definition", 1, &def) != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "type", 0, &type) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "definition", &def, 1024 * 1024)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    list = cJSON_CreateArray();

    m = ngx_http_sfn_aws_load(&def,
                              (type.data
                               && ngx_strcmp(type.data, "EXPRESS") == 0)
                              ? SFN_EXPRESS : SFN_STANDARD, &diag);

    if (m) {
        sfn_machine_free(m);
        cJSON_AddStringToObject(json, "result", "OK");

    } else {
        cJSON_AddStringToObject(json, "result", "FAIL");

        d = cJSON_CreateObject();
        cJSON_AddItemToArray(list, d);
        cJSON_AddStringToObject(d, "severity", "ERROR");

        cJSON_AddStringToObject(d, "code", diag.code);
        cJSON_AddStringToObject(d, "message", diag.message);
        cJSON_AddStringToObject(d, "location", diag.location);
    }

    cJSON_AddItemToObject(json, "diagnostics", list);
    cJSON_AddBoolToObject(json, "truncated", 0);

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


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


static ngx_int_t
ngx_http_sfn_aws_run(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t              rc;
    ngx_str_t              arn;
    ngx_http_sfn_record_t  rec;

    ctx->start_ms = ngx_http_sfn_now_ms();

    if (ctx->sync) {
        rc = ngx_http_sfn_exec_start_sync(ctx->smcf, ctx->sm, &ctx->exec_name,
                                          &ctx->input, &arn, ctx->r->pool);

    } else {
        rc = ngx_http_sfn_exec_start(ctx->smcf, ctx->sm, &ctx->exec_name,
                                     &ctx->input, NULL, NULL, NULL, &arn,
                                     ctx->r->pool);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionAlreadyExists",
                                            "Execution Already Exists: "
                                            "'%s'",
                                            ngx_http_sfn_aws_exec_arn(ctx,
                                                &ctx->sm->name,
                                                &ctx->exec_name));
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
    cJSON                 *json;
    u_char                *arn;
    ngx_str_t             *key;
    const char            *values[1];
    ngx_http_sfn_record_t  rec;

    if (ctx->sync && ctx->sm->type != SFN_EXPRESS) {
        return ngx_http_sfn_aws_reply_error(ctx,
                   "StateMachineTypeNotSupported",
                   "This operation is not supported by this type of state "
                   "machine");
    }

    key = ngx_http_sfn_aws_exec_key(ctx, &ctx->sm->name);
    if (key == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    arn = key->data;

    /* a name of our own making is new: no execution has it */

    if (ctx->named
        && ngx_http_sfn_shm_get(ctx->smcf, key, ctx->r->pool, &rec) == NGX_OK)
    {
        /* AWS: the same name and input of a running execution is a retry */

        if (!ctx->sync && rec.status == SFN_RUNNING
            && rec.input.len == ctx->input.len
            && ngx_strncmp(rec.input.data, ctx->input.data, rec.input.len)
               == 0)
        {
            json = cJSON_CreateObject();
            if (json == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            cJSON_AddStringToObject(json, "executionArn", (char *) arn);
            cJSON_AddNumberToObject(json, "startDate",
                                    rec.start_ms / 1000.0);

            return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
        }

        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionAlreadyExists",
                                            "Execution Already Exists: "
                                            "'%s'", arn);
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


static ngx_int_t
ngx_http_sfn_aws_start(ngx_http_sfn_aws_ctx_t *ctx)
{
    cJSON     *in;
    u_char    *p;
    ngx_str_t  name;

    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "name", 0, &name) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "input", 0, &ctx->input)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "input", &ctx->input,
                                   SFN_MAX_PAYLOAD) != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
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

    in = cJSON_ParseWithLength((char *) ctx->input.data, ctx->input.len);

    if (in == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidExecutionInput",
                                            "Invalid State Machine Execution "
                                            "Input: 'the input is not valid "
                                            "JSON'");
    }

    cJSON_Delete(in);

    return ngx_http_sfn_aws_machine(ctx, ngx_http_sfn_aws_start_found);
}


static ngx_int_t
ngx_http_sfn_aws_start_sync(ngx_http_sfn_aws_ctx_t *ctx)
{
    ctx->sync = 1;

    return ngx_http_sfn_aws_start(ctx);
}


/* DescribeExecution */

static ngx_int_t
ngx_http_sfn_aws_exec_reply(ngx_http_sfn_aws_ctx_t *ctx, const char *status,
    const char *input, const char *output, const char *error,
    const char *cause, double start, double stop)
{
    cJSON  *json, *item;
    u_char *arn, *smarn;

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
    cJSON_AddNumberToObject(json, "startDate", start);

    if (stop > 0) {
        cJSON_AddNumberToObject(json, "stopDate", stop);
    }

    if (input) {
        cJSON_AddStringToObject(json, "input", input);
        item = cJSON_AddObjectToObject(json, "inputDetails");
        cJSON_AddBoolToObject(item, "included", 1);
    }

    if (output) {
        cJSON_AddStringToObject(json, "output", output);
        item = cJSON_AddObjectToObject(json, "outputDetails");
        cJSON_AddBoolToObject(item, "included", 1);
    }

    if (error) {
        cJSON_AddStringToObject(json, "error", error);
    }

    if (cause) {
        cJSON_AddStringToObject(json, "cause", cause);
    }

    cJSON_AddNumberToObject(json, "redriveCount", 0);
    cJSON_AddStringToObject(json, "redriveStatus", "NOT_REDRIVABLE");

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_exec_row(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionDoesNotExist",
                                            "Execution Does Not Exist: '%V'",
                                            &ctx->arn);
    }

    return ngx_http_sfn_aws_exec_reply(ctx, PQgetvalue(res, 0, 0),
                                       PQgetisnull(res, 0, 1)
                                       ? NULL : PQgetvalue(res, 0, 1),
                                       PQgetisnull(res, 0, 2)
                                       ? NULL : PQgetvalue(res, 0, 2),
                                       PQgetisnull(res, 0, 3)
                                       ? NULL : PQgetvalue(res, 0, 3),
                                       PQgetisnull(res, 0, 4)
                                       ? NULL : PQgetvalue(res, 0, 4),
                                       ngx_http_sfn_aws_epoch(res, 0, 5),
                                       ngx_http_sfn_aws_epoch(res, 0, 6));
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


static ngx_int_t
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
                   (char *) ngx_http_sfn_aws_cstr(ctx->r->pool,
                                                  rec.input.data,
                                                  rec.input.len),
                   rec.status == SFN_SUCCEEDED
                   ? (char *) ngx_http_sfn_aws_cstr(ctx->r->pool,
                                                    rec.output.data,
                                                    rec.output.len)
                   : NULL,
                   rec.error.data
                   ? (char *) ngx_http_sfn_aws_cstr(ctx->r->pool,
                                                    rec.error.data,
                                                    rec.error.len)
                   : NULL,
                   rec.cause.data
                   ? (char *) ngx_http_sfn_aws_cstr(ctx->r->pool,
                                                    rec.cause.data,
                                                    rec.cause.len)
                   : NULL,
                   rec.start_ms / 1000.0,
                   rec.status == SFN_RUNNING ? -1 : rec.stop_ms / 1000.0);
    }

    arn = ngx_http_sfn_aws_exec_arn(ctx, &ctx->sm_name, &ctx->exec_name);
    if (arn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = (char *) arn;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT status, input, output, error, cause, "
               "extract(epoch FROM start_date), "
               "extract(epoch FROM stop_date) "
               "FROM sfn_executions WHERE arn = $1",
               1, values, ngx_http_sfn_aws_exec_row);
}


/* ListExecutions */

static ngx_int_t
ngx_http_sfn_aws_listed_execs(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    int                      i, n;
    cJSON                   *json, *list, *item;
    u_char                  *smarn;
    ngx_int_t                limit, offset;
    ngx_http_sfn_machine_t  *sm;

    (void) ngx_http_sfn_aws_page(ctx, 100, &limit, &offset);

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
    json = cJSON_CreateObject();
    list = cJSON_AddArrayToObject(json, "executions");

    if (smarn == NULL || json == NULL || list == NULL) {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = res ? PQntuples(res) : 0;

    for (i = 0; i < n && i < limit; i++) {
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
    }

    if (n > limit) {
        ngx_http_sfn_aws_next_token(json, offset + limit);
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_list_execs(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t    limit, offset;
    ngx_str_t    status;
    const char  *values[4];
    u_char       lim[NGX_INT_T_LEN + 1], off[NGX_INT_T_LEN + 1];

    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "statusFilter", 0, &status)
           == NGX_ERROR
        || ngx_http_sfn_aws_page(ctx, 100, &limit, &offset) != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
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

    *ngx_sprintf(lim, "%i", limit + 1) = '\0';
    *ngx_sprintf(off, "%i", offset) = '\0';

    values[0] = (char *) ctx->sm_name.data;
    values[1] = (char *) status.data;
    values[2] = (char *) lim;
    values[3] = (char *) off;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT m.type, e.arn, e.name, e.status, "
               "extract(epoch FROM e.start_date), "
               "extract(epoch FROM e.stop_date), m.source "
               "FROM sfn_state_machines m LEFT JOIN LATERAL ("
               "SELECT * FROM sfn_executions x WHERE x.state_machine = m.name "
               "AND ($2::text IS NULL OR x.status = $2) "
               "ORDER BY x.start_date DESC, x.arn DESC "
               "LIMIT $3::bigint OFFSET $4::bigint) e ON true "
               "WHERE m.name = $1",
               4, values, ngx_http_sfn_aws_listed_execs);
}


/* GetExecutionHistory */

static ngx_int_t
ngx_http_sfn_aws_history_rows(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    int                     i, n;
    cJSON                  *json, *list, *ev, *details, *d;
    ngx_int_t               limit, offset;
    ngx_http_sfn_record_t   rec;

    (void) ngx_http_sfn_aws_page(ctx, 100, &limit, &offset);

    if (res == NULL || PQntuples(res) == 0) {
        if (ngx_http_sfn_aws_shm_record(ctx, &rec) != NGX_OK) {
            return ngx_http_sfn_aws_reply_error(ctx, "ExecutionDoesNotExist",
                                                "Execution Does Not Exist: "
                                                "'%V'", &ctx->arn);
        }

        /* Express, or not yet committed: no durable history */
    }

    json = cJSON_CreateObject();
    list = cJSON_AddArrayToObject(json, "events");

    if (json == NULL || list == NULL) {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = res ? PQntuples(res) : 0;

    for (i = 0; i < n && i < limit; i++) {
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

    if (n > limit && !PQgetisnull(res, limit - 1, 0)) {
        ngx_http_sfn_aws_next_token(json, offset + limit);
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_history(ngx_http_sfn_aws_ctx_t *ctx)
{
    cJSON       *reverse;
    u_char      *arn;
    ngx_int_t    limit, offset;
    const char  *values[3];
    u_char       lim[NGX_INT_T_LEN + 1], off[NGX_INT_T_LEN + 1];

    if (ngx_http_sfn_aws_exec_field(ctx) != NGX_OK
        || ngx_http_sfn_aws_page(ctx, 100, &limit, &offset) != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    reverse = cJSON_GetObjectItemCaseSensitive(ctx->body, "reverseOrder");

    arn = ngx_http_sfn_aws_exec_arn(ctx, &ctx->sm_name, &ctx->exec_name);
    if (arn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_sprintf(lim, "%i", limit + 1) = '\0';
    *ngx_sprintf(off, "%i", offset) = '\0';

    values[0] = (char *) arn;
    values[1] = (char *) lim;
    values[2] = (char *) off;

    if (cJSON_IsTrue(reverse)) {
        return ngx_http_sfn_aws_query(ctx,
                   "SELECT h.id, h.previous_id, h.type, "
                   "extract(epoch FROM h.ts), h.details::text "
                   "FROM sfn_executions e LEFT JOIN LATERAL ("
                   "SELECT * FROM sfn_history x "
                   "WHERE x.execution_arn = e.arn ORDER BY x.id DESC "
                   "LIMIT $2::bigint OFFSET $3::bigint) h ON true "
                   "WHERE e.arn = $1 ORDER BY h.id DESC",
                   3, values, ngx_http_sfn_aws_history_rows);
    }

    return ngx_http_sfn_aws_query(ctx,
               "SELECT h.id, h.previous_id, h.type, "
               "extract(epoch FROM h.ts), h.details::text "
               "FROM sfn_executions e LEFT JOIN LATERAL ("
               "SELECT * FROM sfn_history x "
               "WHERE x.execution_arn = e.arn ORDER BY x.id "
               "LIMIT $2::bigint OFFSET $3::bigint) h ON true "
               "WHERE e.arn = $1 ORDER BY h.id",
               3, values, ngx_http_sfn_aws_history_rows);
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


static ngx_int_t
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


static ngx_int_t
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

    out = cJSON_ParseWithLength((char *) output.data, output.len);

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


static ngx_int_t
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


static ngx_int_t
ngx_http_sfn_aws_heartbeat(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t  none;

    ngx_str_null(&none);

    return ngx_http_sfn_aws_callback(ctx, NGX_HTTP_SFN_MSG_HEARTBEAT, &none,
                                     &none);
}


/* TagResource, UntagResource, ListTagsForResource */

static ngx_int_t
ngx_http_sfn_aws_tagged(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON  *json, *list, *tags, *t, *item;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ResourceNotFound",
                                            "Resource not found: '%V'",
                                            &ctx->arn);
    }

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (PQnfields(res) == 1) {
        return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
    }

    /* ListTagsForResource */

    list = cJSON_AddArrayToObject(json, "tags");
    tags = cJSON_ParseWithLength(PQgetvalue(res, 0, 1),
                                 PQgetlength(res, 0, 1));

    cJSON_ArrayForEach(t, tags) {
        item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "key", t->string);
        cJSON_AddStringToObject(item, "value",
                                cJSON_IsString(t) ? t->valuestring : "");
    }

    cJSON_Delete(tags);

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_resource(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  arn;

    if (ngx_http_sfn_aws_field(ctx, "resourceArn", 1, &arn) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_sfn_aws_arn(ctx, &arn, 0);

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_invalid(ctx, "ResourceNotFound",
                                        "Resource not found: '%V'", &arn);
    }

    return rc;
}


static ngx_int_t
ngx_http_sfn_aws_tag(ngx_http_sfn_aws_ctx_t *ctx)
{
    char        *tags;
    const char  *values[2];

    if (ngx_http_sfn_aws_resource(ctx) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    tags = ngx_http_sfn_aws_tags(ctx,
                        cJSON_GetObjectItemCaseSensitive(ctx->body, "tags"));
    if (tags == NULL) {
        return ngx_http_sfn_aws_error(ctx);
    }

    values[0] = (char *) ctx->sm_name.data;
    values[1] = tags;

    return ngx_http_sfn_aws_query(ctx,
               "UPDATE sfn_state_machines SET tags = tags || $2::jsonb "
               "WHERE name = $1 RETURNING 1",
               2, values, ngx_http_sfn_aws_tagged);
}


static ngx_int_t
ngx_http_sfn_aws_untag(ngx_http_sfn_aws_ctx_t *ctx)
{
    char        *text;
    cJSON       *keys;
    const char  *values[2];

    if (ngx_http_sfn_aws_resource(ctx) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    keys = cJSON_GetObjectItemCaseSensitive(ctx->body, "tagKeys");

    if (!cJSON_IsArray(keys)) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "1 validation error detected: Value null at 'tagKeys' "
                   "failed to satisfy constraint: Member must not be null");
    }

    text = cJSON_PrintUnformatted(keys);
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = (char *) ctx->sm_name.data;
    values[1] = (char *) ngx_http_sfn_aws_cstr(ctx->r->pool, (u_char *) text,
                                               ngx_strlen(text));
    cJSON_free(text);

    if (values[1] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_query(ctx,
               "UPDATE sfn_state_machines SET tags = tags - ARRAY("
               "SELECT jsonb_array_elements_text($2::jsonb)) "
               "WHERE name = $1 RETURNING 1",
               2, values, ngx_http_sfn_aws_tagged);
}


static ngx_int_t
ngx_http_sfn_aws_list_tags(ngx_http_sfn_aws_ctx_t *ctx)
{
    const char  *values[1];

    if (ngx_http_sfn_aws_resource(ctx) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    values[0] = (char *) ctx->sm_name.data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT 1, tags::text FROM sfn_state_machines "
               "WHERE name = $1",
               1, values, ngx_http_sfn_aws_tagged);
}
