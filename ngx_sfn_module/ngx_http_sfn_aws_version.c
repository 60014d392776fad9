
/*
 * Copyright (C) ngx_sfn authors
 *
 * The AWS API's versions and aliases of state machines:
 * PublishStateMachineVersion, ListStateMachineVersions,
 * DeleteStateMachineVersion, Create, Describe, Update, Delete and
 * ListStateMachineAliases, and the state machine a qualified ARN
 * (":<version>" or ":<alias>") starts.  They live in PostgreSQL
 * (sql/009_versions.sql); only state machines created through the API
 * have them: those of nginx.conf change with nginx.conf.
 */


#include "ngx_http_sfn_aws.h"


#define NGX_HTTP_SFN_AWS_MAX_VERSIONS  "1000"
#define NGX_HTTP_SFN_AWS_MAX_ALIASES   "100"

#define NGX_HTTP_SFN_AWS_LIST_VERSIONS  'V'
#define NGX_HTTP_SFN_AWS_LIST_ALIASES   'A'


typedef struct {
    ngx_str_t                    machine;   /* the versions' state machine */
    ngx_str_t                    json;      /* as kept, a C string */
} ngx_http_sfn_aws_routing_t;


static ngx_int_t
ngx_http_sfn_aws_not_found(ngx_http_sfn_aws_ctx_t *ctx)
{
    return ngx_http_sfn_aws_reply_error(ctx, "ResourceNotFound",
                                        "Resource not found: '%V'",
                                        &ctx->arn);
}


/*
 * 1 for a state machine that may have versions and aliases: one created
 * through the API; those of nginx.conf have none
 */

static ngx_uint_t
ngx_http_sfn_aws_versioned(ngx_http_sfn_aws_ctx_t *ctx)
{
    return ctx->smcf->database.len
           && ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name) == NULL;
}


/* a qualified ARN: ":<version>" (want 1) or ":<alias>" (want 0) */

static ngx_int_t
ngx_http_sfn_aws_qualified(ngx_http_sfn_aws_ctx_t *ctx, const char *field,
    ngx_uint_t want)
{
    ngx_int_t  rc;
    ngx_str_t  arn;

    if (ngx_http_sfn_aws_field(ctx, field, 1, &arn) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->qualify = 1;
    rc = ngx_http_sfn_aws_arn(ctx, &arn, 0);
    ctx->qualify = 0;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (ctx->qualifier.data == NULL || ctx->version != want) {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                                        "Invalid Arn: 'not the ARN of a "
                                        "state machine %s: %V'",
                                        want ? "version" : "alias", &arn);
    }

    return rc;
}


/* StartExecution of "<state machine>:<version>" or ":<alias>" */

ngx_int_t
ngx_http_sfn_aws_version_machine(ngx_http_sfn_aws_ctx_t *ctx)
{
    u_char                   *p;
    ngx_str_t                 cached;
    const char               *values[3];
    ngx_http_sfn_compiled_t  *am;

    if (!ngx_http_sfn_aws_versioned(ctx)) {
        return ngx_http_sfn_aws_not_found(ctx);
    }

    values[0] = (char *) ngx_http_sfn_aws_cstr(ctx->r->pool, ctx->arn.data,
                                               ctx->arn.len);
    if (values[0] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->version) {

        /* versions do not change: the key is the creation's date */

        am = ngx_http_sfn_machine_cached(&ctx->arn);
        values[1] = am ? (char *) am->key.data : "";

        return ngx_http_sfn_aws_query(ctx,
                   "SELECT v.type, extract(epoch FROM v.created_at)::text, "
                   "m.arn, CASE WHEN extract(epoch FROM v.created_at)::text "
                   "= $2 THEN NULL ELSE v.definition END, "
                   "coalesce(v.role_arn, ''), v.arn, NULL::text "
                   "FROM sfn_versions v JOIN sfn_state_machines m "
                   "ON m.name = v.state_machine "
                   "WHERE v.arn = $1 AND NOT v.deleted",
                   2, values, ngx_http_sfn_aws_machine_loaded);
    }

    /*
     * the alias's versions by weight: the first whose running sum of
     * weights passes a number drawn in [0, 100) (a weight 0 is never
     * drawn); the definition travels unless the version drawn is cached
     */

    p = ngx_pnalloc(ctx->r->pool, 32);
    if (p == NULL
        || ngx_http_sfn_machine_versions(&ctx->sm_name, ctx->r->pool, &cached)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_sprintf(p, "%.6f", (double) (ngx_random() % 100000000) / 1000000)
        = '\0';

    values[1] = (char *) cached.data;
    values[2] = (char *) p;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT v.type, extract(epoch FROM v.created_at)::text, "
               "m.arn, CASE WHEN extract(epoch FROM v.created_at)::text "
               "= $2::jsonb ->> v.arn THEN NULL ELSE v.definition END, "
               "coalesce(v.role_arn, ''), v.arn, a.arn "
               "FROM sfn_aliases a CROSS JOIN LATERAL ("
               "SELECT s.varn FROM (SELECT r ->> 'stateMachineVersionArn' "
               "AS varn, sum((r ->> 'weight')::int) OVER (ORDER BY n) AS c "
               "FROM jsonb_array_elements(a.routing) WITH ORDINALITY "
               "t(r, n)) s WHERE s.c > $3::float8 ORDER BY s.c LIMIT 1) p "
               "JOIN sfn_versions v ON v.arn = p.varn AND NOT v.deleted "
               "JOIN sfn_state_machines m ON m.name = v.state_machine "
               "WHERE a.arn = $1",
               3, values, ngx_http_sfn_aws_machine_loaded);
}


/* PublishStateMachineVersion, and the publish of Create/UpdateStateMachine */

static ngx_int_t
ngx_http_sfn_aws_published(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON  *json;

    json = cJSON_CreateObject();

    if (json == NULL
        || cJSON_AddNumberToObject(json, "creationDate",
                                   ngx_http_sfn_aws_epoch(res, 0, 2))
           == NULL
        || cJSON_AddStringToObject(json, "stateMachineVersionArn",
                                   PQgetvalue(res, 0, 1))
           == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_publish_done(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    char  *outcome;

    if (res == NULL || PQntuples(res) != 1) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the version was not published");
    }

    outcome = PQgetvalue(res, 0, 0);

    if (ngx_strcmp(outcome, "missing") == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    if (ngx_strcmp(outcome, "conflict") == 0) {
        if (PQgetisnull(res, 0, 1)) {
            return ngx_http_sfn_aws_reply_error(ctx, "ConflictException",
                       "Failed to publish the State Machine version: the "
                       "revisionId does not match the current revision");
        }

        return ngx_http_sfn_aws_reply_error(ctx, "ConflictException",
                   "Failed to publish the State Machine version: version "
                   "'%s' of the current revision has another description",
                   PQgetvalue(res, 0, 1));
    }

    if (ngx_strcmp(outcome, "quota") == 0) {
        return ngx_http_sfn_aws_reply_error(ctx,
                   "ServiceQuotaExceededException",
                   "The maximum number of versions (%s) of the state "
                   "machine is reached", NGX_HTTP_SFN_AWS_MAX_VERSIONS);
    }

    return ctx->then(ctx, res);
}


/*
 * Publishes the current revision (if it is revision, when given), then
 * calls next(ctx, res) with res's row: outcome, the version's ARN and its
 * creation date; errors are answered here
 */

ngx_int_t
ngx_http_sfn_aws_publish_then(ngx_http_sfn_aws_ctx_t *ctx,
    const char *revision, const char *description,
    ngx_http_sfn_aws_next_pt next)
{
    const char  *values[3];

    ctx->then = next;

    values[0] = (char *) ctx->sm_name.data;
    values[1] = revision;
    values[2] = description;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT * FROM sfn_version_publish($1, $2, $3, "
               NGX_HTTP_SFN_AWS_MAX_VERSIONS ")",
               3, values, ngx_http_sfn_aws_publish_done);
}


ngx_int_t
ngx_http_sfn_aws_publish(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t  description, revision;

    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "description", 0, &description)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "description", &description, 256)
           != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "revisionId", 0, &revision)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "revisionId", &revision, 256)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (!ngx_http_sfn_aws_versioned(ctx)) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "state machine '%V' is defined in nginx.conf (or there is "
                   "no sfn_database): it has no versions", &ctx->sm_name);
    }

    return ngx_http_sfn_aws_publish_then(ctx, (char *) revision.data,
                                         (char *) description.data,
                                         ngx_http_sfn_aws_published);
}


/*
 * ListStateMachineVersions, newest first; the cursor is the last version
 * number given (8 bytes, big endian)
 */

static ngx_int_t
ngx_http_sfn_aws_listed(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res,
    const char *member, const char *arn_member, u_char kind)
{
    int         i, n;
    cJSON      *json, *list, *item;
    u_char     *p, cursor[8];
    int64_t     v;
    ngx_int_t   rc;
    ngx_uint_t  k;

    if (res == NULL || PQntuples(res) == 0) {
        if (ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name) == NULL) {
            return ngx_http_sfn_aws_reply_error(ctx,
                                                "StateMachineDoesNotExist",
                                                "State Machine Does Not "
                                                "Exist: '%V'", &ctx->arn);
        }

        n = 0;

    } else {
        n = PQgetisnull(res, 0, 1) ? 0 : PQntuples(res);
    }

    json = ngx_http_sfn_aws_list_reply(member, &list);

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < n && i < ctx->limit; i++) {
        item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);

        if (cJSON_AddStringToObject(item, arn_member, PQgetvalue(res, i, 1))
            == NULL
            || cJSON_AddNumberToObject(item, "creationDate",
                                       ngx_http_sfn_aws_epoch(res, i, 2))
               == NULL)
        {
            cJSON_Delete(json);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (n > ctx->limit) {
        i = ctx->limit - 1;

        if (kind == NGX_HTTP_SFN_AWS_LIST_VERSIONS) {
            v = ngx_atoof((u_char *) PQgetvalue(res, i, 3),
                          PQgetlength(res, i, 3));
            p = cursor;

            for (k = 0; k < 8; k++) {
                *p++ = (u_char) ((uint64_t) v >> (56 - 8 * k));
            }

            rc = ngx_http_sfn_aws_next_token(ctx, json, kind, &ctx->bind,
                                             cursor, 8);

        } else {
            rc = ngx_http_sfn_aws_next_token(ctx, json, kind, &ctx->bind,
                                             (u_char *) PQgetvalue(res, i, 3),
                                             PQgetlength(res, i, 3));
        }

        if (rc != NGX_OK) {
            cJSON_Delete(json);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_listed_versions(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    return ngx_http_sfn_aws_listed(ctx, res, "stateMachineVersions",
                                   "stateMachineVersionArn",
                                   NGX_HTTP_SFN_AWS_LIST_VERSIONS);
}


static ngx_int_t
ngx_http_sfn_aws_listed_aliases(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    return ngx_http_sfn_aws_listed(ctx, res, "stateMachineAliases",
                                   "stateMachineAliasArn",
                                   NGX_HTTP_SFN_AWS_LIST_ALIASES);
}


/* the page of a list by state machine; NGX_DECLINED: nginx.conf's, empty */

static ngx_int_t
ngx_http_sfn_aws_list_page(ngx_http_sfn_aws_ctx_t *ctx, u_char kind)
{
    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->bind = ctx->sm_name;

    if (ngx_http_sfn_aws_page(ctx, 100, kind, &ctx->bind) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->smcf->database.len == 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_aws_bad_token(ngx_http_sfn_aws_ctx_t *ctx)
{
    return ngx_http_sfn_aws_reply_error(ctx, "InvalidToken",
                                        "Invalid Token: 'the token is not "
                                        "one of this request'");
}


ngx_int_t
ngx_http_sfn_aws_list_versions(ngx_http_sfn_aws_ctx_t *ctx)
{
    u_char       *p;
    uint64_t      v;
    ngx_int_t     rc;
    ngx_uint_t    k;
    const char   *values[3];
    u_char        lim[NGX_INT_T_LEN + 1], after[NGX_INT64_LEN + 1];

    rc = ngx_http_sfn_aws_list_page(ctx, NGX_HTTP_SFN_AWS_LIST_VERSIONS);

    if (rc == NGX_ERROR) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_listed_versions(ctx, NULL);
    }

    ngx_cpystrn(after, (u_char *) "9223372036854775807", sizeof(after));

    if (ctx->cursor.data) {
        if (ctx->cursor.len != 8) {
            return ngx_http_sfn_aws_bad_token(ctx);
        }

        p = ctx->cursor.data;
        v = 0;

        for (k = 0; k < 8; k++) {
            v = (v << 8) | *p++;
        }

        if (v == 0 || v > 0x7fffffffffffffffULL) {
            return ngx_http_sfn_aws_bad_token(ctx);
        }

        *ngx_sprintf(after, "%uL", v) = '\0';
    }

    *ngx_sprintf(lim, "%i", ctx->limit + 1) = '\0';

    values[0] = (char *) ctx->sm_name.data;
    values[1] = (char *) after;
    values[2] = (char *) lim;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT m.source, v.arn, extract(epoch FROM v.created_at), "
               "v.version FROM sfn_state_machines m LEFT JOIN LATERAL ("
               "SELECT arn, created_at, version FROM sfn_versions "
               "WHERE state_machine = m.name AND NOT deleted "
               "AND version < $2::bigint ORDER BY version DESC "
               "LIMIT $3::bigint) v ON true "
               "WHERE m.name = $1 ORDER BY v.version DESC",
               3, values, ngx_http_sfn_aws_listed_versions);
}


/* DeleteStateMachineVersion: none there is no error, as on AWS */

static ngx_int_t
ngx_http_sfn_aws_version_deleted(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    if (res == NULL || PQntuples(res) != 1) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the version was not deleted");
    }

    if (ngx_strcmp(PQgetvalue(res, 0, 0), "conflict") == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ConflictException",
                   "Version to be deleted must not be referenced by an "
                   "alias: '%V'", &ctx->arn);
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, cJSON_CreateObject());
}


ngx_int_t
ngx_http_sfn_aws_delete_version(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t    rc;
    const char  *values[1];

    rc = ngx_http_sfn_aws_qualified(ctx, "stateMachineVersionArn", 1);

    if (rc == NGX_ERROR) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (rc == NGX_DECLINED || ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK,
                                     cJSON_CreateObject());
    }

    values[0] = (char *) ngx_http_sfn_aws_cstr(ctx->r->pool, ctx->arn.data,
                                               ctx->arn.len);
    if (values[0] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_query(ctx, "SELECT sfn_version_delete($1)",
                                  1, values,
                                  ngx_http_sfn_aws_version_deleted);
}


/*
 * routingConfiguration: one or two versions of one state machine, weights
 * from 0 to 100 summing to 100, kept as the model's list
 */

static ngx_int_t
ngx_http_sfn_aws_routing(ngx_http_sfn_aws_ctx_t *ctx, cJSON *in,
    ngx_http_sfn_aws_routing_t *rt)
{
    char       *text;
    cJSON      *out, *item, *arn, *weight, *o;
    ngx_int_t   rc, sum, n;
    ngx_str_t   s, first, save_name, save_arn;

    if (!cJSON_IsArray(in)) {
        return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for "
                                        "'routingConfiguration'");
    }

    n = cJSON_GetArraySize(in);

    if (n < 1 || n > 2) {
        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                   "1 validation error detected: Value at "
                   "'routingConfiguration' failed to satisfy constraint: "
                   "Member must have length between 1 and 2");
    }

    out = cJSON_CreateArray();
    if (out == NULL) {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    save_name = ctx->sm_name;
    save_arn = ctx->arn;
    ngx_str_null(&first);
    sum = 0;
    rc = NGX_OK;

    cJSON_ArrayForEach(item, in) {
        arn = cJSON_GetObjectItemCaseSensitive(item, "stateMachineVersionArn");
        weight = cJSON_GetObjectItemCaseSensitive(item, "weight");

        if (!cJSON_IsObject(item)
            || (arn && !cJSON_IsNull(arn) && !cJSON_IsString(arn))
            || (weight && !cJSON_IsNull(weight) && !cJSON_IsNumber(weight)))
        {
            rc = ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                          "Unexpected value type for "
                                          "'routingConfiguration.member'");
            break;
        }

        if (!cJSON_IsString(arn) || !cJSON_IsNumber(weight)) {
            rc = ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                       "1 validation error detected: Value null at "
                       "'routingConfiguration.member.%s' failed to satisfy "
                       "constraint: Member must not be null",
                       cJSON_IsString(arn) ? "weight"
                                           : "stateMachineVersionArn");
            break;
        }

        if (weight->valuedouble != (double) (int) weight->valuedouble
            || weight->valuedouble < 0 || weight->valuedouble > 100)
        {
            rc = ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                       "1 validation error detected: Value at "
                       "'routingConfiguration.member.weight' failed to "
                       "satisfy constraint: Member must have value between "
                       "0 and 100");
            break;
        }

        sum += (ngx_int_t) weight->valuedouble;

        s.data = (u_char *) arn->valuestring;
        s.len = ngx_strlen(arn->valuestring);

        ctx->qualify = 1;
        rc = ngx_http_sfn_aws_arn(ctx, &s, 0);
        ctx->qualify = 0;

        if (rc == NGX_OK && (ctx->qualifier.data == NULL || !ctx->version)) {
            rc = ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                                          "Invalid Arn: 'not the ARN of a "
                                          "state machine version: %V'", &s);
        }

        if (rc == NGX_DECLINED) {
            rc = ngx_http_sfn_aws_invalid(ctx, "ResourceNotFound",
                                          "Resource not found: '%V'", &s);
        }

        if (rc != NGX_OK) {
            break;
        }

        if (first.data == NULL) {
            first = ctx->sm_name;

        } else if (first.len != ctx->sm_name.len
                   || ngx_strncmp(first.data, ctx->sm_name.data, first.len)
                      != 0)
        {
            rc = ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                       "The versions of a routing configuration must be of "
                       "one state machine");
            break;

        } else if (ngx_strcmp(cJSON_GetArrayItem(out, 0)->child->valuestring,
                              arn->valuestring)
                   == 0)
        {
            rc = ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                       "Routing configuration must contain distinct state "
                       "machine versions");
            break;
        }

        o = cJSON_CreateObject();

        if (o == NULL
            || !cJSON_AddItemToArray(out, o)
            || cJSON_AddStringToObject(o, "stateMachineVersionArn",
                                       arn->valuestring)
               == NULL
            || cJSON_AddNumberToObject(o, "weight", weight->valuedouble)
               == NULL)
        {
            rc = ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                          "out of memory");
            break;
        }
    }

    ctx->sm_name = save_name;
    ctx->arn = save_arn;

    if (rc == NGX_OK && sum != 100) {
        rc = ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                   "Sum of routing configuration weights must be equal to "
                   "100");
    }

    if (rc != NGX_OK) {
        cJSON_Delete(out);
        return NGX_ERROR;
    }

    text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);

    if (text == NULL) {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    rt->machine = first;
    rt->json.len = ngx_strlen(text);
    rt->json.data = ngx_http_sfn_aws_cstr(ctx->r->pool, (u_char *) text,
                                          rt->json.len);
    cJSON_free(text);

    if (rt->json.data == NULL) {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    return NGX_OK;
}


/*
 * CreateStateMachineAlias, UpdateStateMachineAlias: sfn_alias_write()'s
 * refusals answered, NGX_DECLINED when it wrote
 */

static ngx_int_t
ngx_http_sfn_aws_alias_refused(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    char  *outcome;

    if (res == NULL || PQntuples(res) != 1) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the alias was not written");
    }

    outcome = PQgetvalue(res, 0, 0);

    if (ngx_strcmp(outcome, "missing") == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ResourceNotFound",
                   "Resource not found: '%V' or a version it routes to",
                   &ctx->arn);
    }

    if (ngx_strcmp(outcome, "conflict") == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ConflictException",
                   "Alias '%V' already exists with another configuration",
                   &ctx->arn);
    }

    if (ngx_strcmp(outcome, "quota") == 0) {
        return ngx_http_sfn_aws_reply_error(ctx,
                   "ServiceQuotaExceededException",
                   "The maximum number of aliases (%s) of the state machine "
                   "is reached", NGX_HTTP_SFN_AWS_MAX_ALIASES);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_sfn_aws_alias_created(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON      *json;
    ngx_int_t   rc;

    rc = ngx_http_sfn_aws_alias_refused(ctx, res);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    json = cJSON_CreateObject();

    if (json == NULL
        || ngx_http_sfn_json_add_str(json, "stateMachineAliasArn", &ctx->arn)
           == NULL
        || cJSON_AddNumberToObject(json, "creationDate",
                                   ngx_http_sfn_aws_epoch(res, 0, 1))
           == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_alias_updated(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON      *json;
    ngx_int_t   rc;

    rc = ngx_http_sfn_aws_alias_refused(ctx, res);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    json = cJSON_CreateObject();

    if (json == NULL
        || cJSON_AddNumberToObject(json, "updateDate",
                                   ngx_http_sfn_aws_epoch(res, 0, 2))
           == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_create_alias(ngx_http_sfn_aws_ctx_t *ctx)
{
    u_char                      *p;
    ngx_str_t                    name, description;
    const char                  *values[5];
    ngx_http_sfn_aws_routing_t   rt;

    if (ngx_http_sfn_aws_field(ctx, "name", 1, &name) != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "description", 0, &description)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "description", &description, 256)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (!ngx_http_sfn_aws_alias_name_valid(&name)) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "1 validation error detected: Value '%V' at 'name' failed "
                   "to satisfy constraint: Member must satisfy regular "
                   "expression pattern: ^(?=.*[a-zA-Z_\\-\\.])"
                   "[a-zA-Z0-9_\\-\\.]+$", &name);
    }

    if (cJSON_GetObjectItemCaseSensitive(ctx->body, "routingConfiguration")
        == NULL)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "1 validation error detected: Value null at "
                   "'routingConfiguration' failed to satisfy constraint: "
                   "Member must not be null");
    }

    if (ngx_http_sfn_aws_routing(ctx,
            cJSON_GetObjectItemCaseSensitive(ctx->body,
                                             "routingConfiguration"),
            &rt)
        != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    ctx->sm_name = rt.machine;

    if (!ngx_http_sfn_aws_versioned(ctx)) {
        return ngx_http_sfn_aws_not_found(ctx);
    }

    p = ngx_http_sfn_aws_sm_arn(ctx, &rt.machine);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->arn.len = ngx_strlen(p) + 1 + name.len;
    ctx->arn.data = ngx_pnalloc(ctx->r->pool, ctx->arn.len + 1);
    if (ctx->arn.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_sprintf(ctx->arn.data, "%s:%V", p, &name) = '\0';

    values[0] = (char *) ctx->arn.data;
    values[1] = (char *) rt.machine.data;
    values[2] = (char *) name.data;
    values[3] = (char *) description.data;
    values[4] = (char *) rt.json.data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT * FROM sfn_alias_write(true, $1, $2, $3, $4, "
               "$5::jsonb, " NGX_HTTP_SFN_AWS_MAX_ALIASES ")",
               5, values, ngx_http_sfn_aws_alias_created);
}


ngx_int_t
ngx_http_sfn_aws_update_alias(ngx_http_sfn_aws_ctx_t *ctx)
{
    cJSON                       *in;
    ngx_int_t                    rc;
    ngx_str_t                    description, name, arn;
    const char                  *values[4];
    ngx_http_sfn_aws_routing_t   rt;

    rc = ngx_http_sfn_aws_qualified(ctx, "stateMachineAliasArn", 0);

    if (rc == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "description", 0, &description)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "description", &description, 256)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    in = cJSON_GetObjectItemCaseSensitive(ctx->body, "routingConfiguration");

    if (in && cJSON_IsNull(in)) {
        in = NULL;
    }

    if (in == NULL && description.data == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "Either the description or the routingConfiguration "
                   "must be specified");
    }

    ngx_str_null(&rt.json);
    name = ctx->sm_name;
    arn = ctx->arn;

    if (in) {
        if (ngx_http_sfn_aws_routing(ctx, in, &rt) != NGX_OK) {
            return ngx_http_sfn_aws_error(ctx);
        }

        if (rt.machine.len != name.len
            || ngx_strncmp(rt.machine.data, name.data, name.len) != 0)
        {
            return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                       "The versions of the routing configuration must be "
                       "of the alias's state machine");
        }
    }

    if (rc == NGX_DECLINED || !ngx_http_sfn_aws_versioned(ctx)) {
        return ngx_http_sfn_aws_not_found(ctx);
    }

    ctx->arn = arn;

    values[0] = (char *) ngx_http_sfn_aws_cstr(ctx->r->pool, arn.data,
                                               arn.len);
    values[1] = (char *) name.data;
    values[2] = (char *) description.data;
    values[3] = (char *) rt.json.data;

    if (values[0] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_query(ctx,
               "SELECT * FROM sfn_alias_write(false, $1, $2, NULL, $3, "
               "$4::jsonb, " NGX_HTTP_SFN_AWS_MAX_ALIASES ")",
               4, values, ngx_http_sfn_aws_alias_updated);
}


/* DescribeStateMachineAlias */

static ngx_int_t
ngx_http_sfn_aws_alias_described(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON  *json;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_not_found(ctx);
    }

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_sfn_json_add_str(json, "stateMachineAliasArn", &ctx->arn);
    cJSON_AddStringToObject(json, "name", PQgetvalue(res, 0, 0));

    if (!PQgetisnull(res, 0, 1)) {
        cJSON_AddStringToObject(json, "description", PQgetvalue(res, 0, 1));
    }

    cJSON_AddItemToObject(json, "routingConfiguration",
                          cJSON_ParseWithLength(PQgetvalue(res, 0, 2),
                                                PQgetlength(res, 0, 2)));
    cJSON_AddNumberToObject(json, "creationDate",
                            ngx_http_sfn_aws_epoch(res, 0, 3));
    cJSON_AddNumberToObject(json, "updateDate",
                            ngx_http_sfn_aws_epoch(res, 0, 4));

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_alias_deleted(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_not_found(ctx);
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, cJSON_CreateObject());
}


static ngx_int_t
ngx_http_sfn_aws_alias_op(ngx_http_sfn_aws_ctx_t *ctx, const char *sql,
    ngx_http_sfn_aws_next_pt next)
{
    ngx_int_t    rc;
    const char  *values[1];

    rc = ngx_http_sfn_aws_qualified(ctx, "stateMachineAliasArn", 0);

    if (rc == NGX_ERROR) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (rc == NGX_DECLINED || ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_not_found(ctx);
    }

    values[0] = (char *) ngx_http_sfn_aws_cstr(ctx->r->pool, ctx->arn.data,
                                               ctx->arn.len);
    if (values[0] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_query(ctx, sql, 1, values, next);
}


ngx_int_t
ngx_http_sfn_aws_describe_alias(ngx_http_sfn_aws_ctx_t *ctx)
{
    return ngx_http_sfn_aws_alias_op(ctx,
               "SELECT name, description, routing::text, "
               "extract(epoch FROM created_at), "
               "extract(epoch FROM updated_at) "
               "FROM sfn_aliases WHERE arn = $1",
               ngx_http_sfn_aws_alias_described);
}


ngx_int_t
ngx_http_sfn_aws_delete_alias(ngx_http_sfn_aws_ctx_t *ctx)
{
    return ngx_http_sfn_aws_alias_op(ctx,
               "DELETE FROM sfn_aliases WHERE arn = $1 RETURNING 1",
               ngx_http_sfn_aws_alias_deleted);
}


/* ListStateMachineAliases, by name; the cursor is the last name given */

ngx_int_t
ngx_http_sfn_aws_list_aliases(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_str_t     name;
    const char   *values[3];
    u_char        lim[NGX_INT_T_LEN + 1];

    rc = ngx_http_sfn_aws_list_page(ctx, NGX_HTTP_SFN_AWS_LIST_ALIASES);

    if (rc == NGX_ERROR) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_sfn_aws_listed_aliases(ctx, NULL);
    }

    ngx_str_null(&name);

    if (ctx->cursor.data) {
        name.data = ctx->cursor.data;
        name.len = ctx->cursor.len;

        if (!ngx_http_sfn_aws_alias_name_valid(&name)) {
            return ngx_http_sfn_aws_bad_token(ctx);
        }

        name.data = ngx_http_sfn_aws_cstr(ctx->r->pool, name.data, name.len);
        if (name.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    *ngx_sprintf(lim, "%i", ctx->limit + 1) = '\0';

    values[0] = (char *) ctx->sm_name.data;
    values[1] = (char *) name.data;
    values[2] = (char *) lim;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT m.source, a.arn, extract(epoch FROM a.created_at), "
               "a.name FROM sfn_state_machines m LEFT JOIN LATERAL ("
               "SELECT arn, created_at, name FROM sfn_aliases "
               "WHERE state_machine = m.name "
               "AND name > coalesce($2::text, '') ORDER BY name "
               "LIMIT $3::bigint) a ON true "
               "WHERE m.name = $1 ORDER BY a.name",
               3, values, ngx_http_sfn_aws_listed_aliases);
}
