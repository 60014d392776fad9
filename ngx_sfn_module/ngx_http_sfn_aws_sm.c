
/*
 * Copyright (C) ngx_sfn authors
 *
 * The AWS API's state-machine actions: CreateStateMachine,
 * DescribeStateMachine(ForExecution), UpdateStateMachine,
 * DeleteStateMachine, ListStateMachines, ValidateStateMachineDefinition
 * and the tags of TagResource, UntagResource and ListTagsForResource.
 * State machines created here live in PostgreSQL (source 'api').
 */


#include "ngx_http_sfn_aws.h"


#define NGX_HTTP_SFN_AWS_MAX_TAGS     50


/* tags: [{"key","value"}] in requests, a JSON object in the table */

char *
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


/*
 * loggingConfiguration, tracingConfiguration and encryptionConfiguration
 * of Create and UpdateStateMachine: checked against the AWS model's
 * shapes, kept as JSON with the model's defaults filled in, and described
 * back.  null is absent, as in AWS's JSON protocol; unknown members are
 * left out.
 */

typedef cJSON_bool (*ngx_http_sfn_aws_is_pt)(const cJSON * const item);


static cJSON *
ngx_http_sfn_aws_member(ngx_http_sfn_aws_ctx_t *ctx, cJSON *obj,
    const char *path, const char *name, ngx_http_sfn_aws_is_pt is)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (item == NULL || cJSON_IsNull(item)) {
        return NULL;
    }

    if (!is(item)) {
        (void) ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for "
                                        "'%s%s%s'", path, *path ? "." : "",
                                        name);
        return (cJSON *) -1;
    }

    return item;
}


static ngx_int_t
ngx_http_sfn_aws_enum(ngx_http_sfn_aws_ctx_t *ctx, cJSON *item,
    const char *path, const char **names, const char *set)
{
    for ( /* void */ ; *names; names++) {
        if (ngx_strcmp(item->valuestring, *names) == 0) {
            return NGX_OK;
        }
    }

    return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
               "1 validation error detected: Value '%s' at '%s' failed to "
               "satisfy constraint: Member must satisfy enum value set: "
               "[%s]", item->valuestring, path, set);
}


static ngx_int_t
ngx_http_sfn_aws_strlen(ngx_http_sfn_aws_ctx_t *ctx, cJSON *item,
    const char *path, size_t max)
{
    ngx_str_t  s;

    s.data = (u_char *) item->valuestring;
    s.len = ngx_strlen(s.data);

    if (s.len == 0) {
        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                   "1 validation error detected: Value '' at '%s' failed "
                   "to satisfy constraint: Member must have length greater "
                   "than or equal to 1", path);
    }

    return ngx_http_sfn_aws_length(ctx, path, &s, max);
}


static const char  *ngx_http_sfn_aws_log_levels[] = {
    "ALL", "ERROR", "FATAL", "OFF", NULL
};

static const char  *ngx_http_sfn_aws_key_types[] = {
    "AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY", NULL
};


static ngx_int_t
ngx_http_sfn_aws_logging(ngx_http_sfn_aws_ctx_t *ctx, cJSON *in, cJSON *out)
{
    cJSON  *level, *data, *dests, *d, *group, *arn, *list, *item;

    level = ngx_http_sfn_aws_member(ctx, in, "loggingConfiguration",
                                    "level", cJSON_IsString);
    data = ngx_http_sfn_aws_member(ctx, in, "loggingConfiguration",
                                   "includeExecutionData", cJSON_IsBool);
    dests = ngx_http_sfn_aws_member(ctx, in, "loggingConfiguration",
                                    "destinations", cJSON_IsArray);

    if (level == (cJSON *) -1 || data == (cJSON *) -1
        || dests == (cJSON *) -1)
    {
        return NGX_ERROR;
    }

    if (level
        && ngx_http_sfn_aws_enum(ctx, level, "loggingConfiguration.level",
                                 ngx_http_sfn_aws_log_levels,
                                 "ALL, ERROR, FATAL, OFF")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (cJSON_AddStringToObject(out, "level",
                                level ? level->valuestring : "OFF")
        == NULL
        || cJSON_AddBoolToObject(out, "includeExecutionData",
                                 cJSON_IsTrue(data))
           == NULL)
    {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    if (cJSON_GetArraySize(dests) > 1) {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidLoggingConfiguration",
                   "Invalid Logging Configuration: Must specify exactly one "
                   "Log Destination.");
    }

    if (cJSON_GetArraySize(dests) == 0) {
        if (level && ngx_strcmp(level->valuestring, "OFF") != 0) {
            return ngx_http_sfn_aws_invalid(ctx,
                       "InvalidLoggingConfiguration",
                       "Invalid Logging Configuration: Must specify exactly "
                       "one Log Destination when the level is not OFF.");
        }

        return NGX_OK;
    }

    d = cJSON_GetArrayItem(dests, 0);

    if (!cJSON_IsObject(d)) {
        return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for "
                                        "'loggingConfiguration.destinations."
                                        "member'");
    }

    group = ngx_http_sfn_aws_member(ctx, d,
                                    "loggingConfiguration.destinations.member",
                                    "cloudWatchLogsLogGroup", cJSON_IsObject);
    if (group == (cJSON *) -1) {
        return NGX_ERROR;
    }

    arn = group ? ngx_http_sfn_aws_member(ctx, group,
                      "loggingConfiguration.destinations.member."
                      "cloudWatchLogsLogGroup", "logGroupArn", cJSON_IsString)
                : NULL;

    if (arn == (cJSON *) -1) {
        return NGX_ERROR;
    }

    if (arn
        && ngx_http_sfn_aws_strlen(ctx, arn,
                                   "loggingConfiguration.destinations.member."
                                   "cloudWatchLogsLogGroup.logGroupArn", 256)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (arn == NULL || ngx_strncmp(arn->valuestring, "arn:", 4) != 0) {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidLoggingConfiguration",
                   "Invalid Logging Configuration: The CloudWatch Logs "
                   "Resource Policy size was exceeded or the log group ARN "
                   "'%s' is not valid", arn ? arn->valuestring : "");
    }

    list = cJSON_AddArrayToObject(out, "destinations");
    item = cJSON_CreateObject();

    if (list == NULL || item == NULL) {
        cJSON_Delete(item);
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    cJSON_AddItemToArray(list, item);
    group = cJSON_AddObjectToObject(item, "cloudWatchLogsLogGroup");

    if (group == NULL
        || cJSON_AddStringToObject(group, "logGroupArn", arn->valuestring)
           == NULL)
    {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_aws_tracing(ngx_http_sfn_aws_ctx_t *ctx, cJSON *in, cJSON *out)
{
    cJSON  *enabled;

    enabled = ngx_http_sfn_aws_member(ctx, in, "tracingConfiguration",
                                      "enabled", cJSON_IsBool);
    if (enabled == (cJSON *) -1) {
        return NGX_ERROR;
    }

    if (cJSON_AddBoolToObject(out, "enabled", cJSON_IsTrue(enabled))
        == NULL)
    {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_aws_encryption(ngx_http_sfn_aws_ctx_t *ctx, cJSON *in,
    cJSON *out)
{
    cJSON   *type, *key, *period;
    double   n;

    type = ngx_http_sfn_aws_member(ctx, in, "encryptionConfiguration",
                                   "type", cJSON_IsString);
    key = ngx_http_sfn_aws_member(ctx, in, "encryptionConfiguration",
                                  "kmsKeyId", cJSON_IsString);
    period = ngx_http_sfn_aws_member(ctx, in, "encryptionConfiguration",
                                     "kmsDataKeyReusePeriodSeconds",
                                     cJSON_IsNumber);

    if (type == (cJSON *) -1 || key == (cJSON *) -1
        || period == (cJSON *) -1)
    {
        return NGX_ERROR;
    }

    if (type == NULL) {
        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                   "1 validation error detected: Value null at "
                   "'encryptionConfiguration.type' failed to satisfy "
                   "constraint: Member must not be null");
    }

    if (ngx_http_sfn_aws_enum(ctx, type, "encryptionConfiguration.type",
                              ngx_http_sfn_aws_key_types,
                              "AWS_OWNED_KEY, CUSTOMER_MANAGED_KMS_KEY")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (key
        && ngx_http_sfn_aws_strlen(ctx, key, "encryptionConfiguration."
                                   "kmsKeyId", 2048)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (period) {
        n = period->valuedouble;

        /* the model's Integer: 32 bits */

        if (n < -2147483648.0 || n > 2147483647.0
            || n != (double) (int32_t) n)
        {
            return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                       "Unexpected value type for 'encryptionConfiguration."
                       "kmsDataKeyReusePeriodSeconds'");
        }

        if (n < 60 || n > 900) {
            return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                       "1 validation error detected: Value '%L' at "
                       "'encryptionConfiguration.kmsDataKeyReusePeriodSeconds'"
                       " failed to satisfy constraint: Member must have value "
                       "%s %d", (int64_t) n,
                       n < 60 ? "greater than or equal to"
                              : "less than or equal to",
                       n < 60 ? 60 : 900);
        }
    }

    if (ngx_strcmp(type->valuestring, "AWS_OWNED_KEY") == 0) {
        if (key || period) {
            return ngx_http_sfn_aws_invalid(ctx,
                       "InvalidEncryptionConfiguration",
                       "Invalid Encryption Configuration: kmsKeyId and "
                       "kmsDataKeyReusePeriodSeconds are not allowed with "
                       "the type AWS_OWNED_KEY");
        }

    } else if (key == NULL) {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidEncryptionConfiguration",
                   "Invalid Encryption Configuration: kmsKeyId is required "
                   "with the type CUSTOMER_MANAGED_KMS_KEY");
    }

    if (cJSON_AddStringToObject(out, "type", type->valuestring) == NULL
        || (key && cJSON_AddStringToObject(out, "kmsKeyId", key->valuestring)
                   == NULL)
        || (key && cJSON_AddNumberToObject(out,
                                           "kmsDataKeyReusePeriodSeconds",
                                           period ? period->valuedouble : 300)
                   == NULL))
    {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    return NGX_OK;
}


typedef ngx_int_t (*ngx_http_sfn_aws_config_pt)(ngx_http_sfn_aws_ctx_t *ctx,
    cJSON *in, cJSON *out);


/* the request's member NAME checked and kept as JSON text; NULL if absent */

static ngx_int_t
ngx_http_sfn_aws_config(ngx_http_sfn_aws_ctx_t *ctx, const char *name,
    ngx_http_sfn_aws_config_pt check, const char **text)
{
    char    *s;
    cJSON   *in, *out;

    *text = NULL;

    in = cJSON_GetObjectItemCaseSensitive(ctx->body, name);

    if (in == NULL || cJSON_IsNull(in)) {
        return NGX_OK;
    }

    if (!cJSON_IsObject(in)) {
        return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for '%s'",
                                        name);
    }

    out = cJSON_CreateObject();
    if (out == NULL) {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    if (check(ctx, in, out) != NGX_OK) {
        cJSON_Delete(out);
        return NGX_ERROR;
    }

    s = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);

    if (s != NULL) {
        *text = (char *) ngx_http_sfn_aws_cstr(ctx->r->pool, (u_char *) s,
                                               ngx_strlen(s));
        cJSON_free(s);
    }

    if (*text == NULL) {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_aws_configs(ngx_http_sfn_aws_ctx_t *ctx)
{
    if (ngx_http_sfn_aws_config(ctx, "loggingConfiguration",
                                ngx_http_sfn_aws_logging, &ctx->logging)
        != NGX_OK
        || ngx_http_sfn_aws_config(ctx, "tracingConfiguration",
                                   ngx_http_sfn_aws_tracing, &ctx->tracing)
           != NGX_OK
        || ngx_http_sfn_aws_config(ctx, "encryptionConfiguration",
                                   ngx_http_sfn_aws_encryption,
                                   &ctx->encryption)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * publish and versionDescription of Create and UpdateStateMachine; the
 * description is NULL without one
 */

static ngx_int_t
ngx_http_sfn_aws_publish_fields(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_str_t *description)
{
    cJSON  *publish;

    publish = cJSON_GetObjectItemCaseSensitive(ctx->body, "publish");

    if (publish && !cJSON_IsNull(publish) && !cJSON_IsBool(publish)) {
        return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for "
                                        "'publish'");
    }

    ctx->publish = cJSON_IsTrue(publish);

    if (ngx_http_sfn_aws_field(ctx, "versionDescription", 0, description)
        == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "versionDescription", description,
                                   256)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (description->data && !ctx->publish) {
        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                   "Version description can only be set when publish is "
                   "true");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_aws_create_published(ngx_http_sfn_aws_ctx_t *ctx,
    PGresult *res)
{
    cJSON   *json;
    u_char  *arn;

    arn = ngx_http_sfn_aws_sm_arn(ctx, &ctx->sm_name);
    json = cJSON_CreateObject();

    if (arn == NULL || json == NULL) {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddStringToObject(json, "stateMachineArn", (char *) arn);
    cJSON_AddNumberToObject(json, "creationDate", ctx->date);
    cJSON_AddStringToObject(json, "stateMachineVersionArn",
                            PQgetvalue(res, 0, 1));

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_create_publish(ngx_http_sfn_aws_ctx_t *ctx,
    const char *revision)
{
    ngx_str_t  description;

    (void) ngx_http_sfn_aws_field(ctx, "versionDescription", 0,
                                  &description);

    return ngx_http_sfn_aws_publish_then(ctx, revision,
                                         (char *) description.data,
                                         ngx_http_sfn_aws_create_published);
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

    if (ctx->publish) {
        ctx->date = ngx_http_sfn_aws_epoch(res, 0, 4);
        return ngx_http_sfn_aws_create_publish(ctx, NULL);
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

    if (ctx->publish) {
        ctx->date = ngx_http_sfn_aws_epoch(res, 0, 1);
        return ngx_http_sfn_aws_create_publish(ctx, "1");
    }

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddStringToObject(json, "stateMachineArn", PQgetvalue(res, 0, 0));
    cJSON_AddNumberToObject(json, "creationDate",
                            ngx_http_sfn_aws_epoch(res, 0, 1));

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_create(ngx_http_sfn_aws_ctx_t *ctx)
{
    char           *tags;
    u_char         *arn;
    ngx_str_t       name, def, role, type, description;
    sfn_type_e      t;
    const char     *values[9];
    sfn_machine_t  *m;

    if (ngx_http_sfn_aws_field(ctx, "name", 1, &name) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "definition", 1, &def) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "roleArn", 1, &role) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "type", 0, &type) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "definition", &def, 1024 * 1024)
           != NGX_OK
        || ngx_http_sfn_aws_publish_fields(ctx, &description) != NGX_OK)
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
    if (tags == NULL || ngx_http_sfn_aws_configs(ctx) != NGX_OK) {
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
    values[6] = ctx->logging;
    values[7] = ctx->tracing;
    values[8] = ctx->encryption;

    return ngx_http_sfn_aws_query(ctx,
               "INSERT INTO sfn_state_machines "
               "(name, arn, type, definition, source, role_arn, tags, "
               "logging_configuration, tracing_configuration, "
               "encryption_configuration) "
               "VALUES ($1, $2, $3, $4, 'api', $5, $6::jsonb, $7::jsonb, "
               "$8::jsonb, $9::jsonb) "
               "ON CONFLICT (name) DO NOTHING "
               "RETURNING arn, extract(epoch FROM created_at)",
               9, values, ngx_http_sfn_aws_created);
}


/* DescribeStateMachine, DescribeStateMachineForExecution */

static cJSON *
ngx_http_sfn_aws_sm_json(ngx_http_sfn_aws_ctx_t *ctx, const char *arn,
    const char *name, const char *type, const char *definition,
    const char *role, double created, double updated, const char *revision,
    const char *logging, const char *tracing, const char *encryption)
{
    cJSON  *json;

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

    /* AWS describes logging and tracing with their defaults if not set */

    cJSON_AddItemToObject(json, "loggingConfiguration",
                          cJSON_Parse(logging ? logging
                                      : "{\"level\":\"OFF\","
                                        "\"includeExecutionData\":false}"));
    cJSON_AddItemToObject(json, "tracingConfiguration",
                          cJSON_Parse(tracing ? tracing
                                      : "{\"enabled\":false}"));

    if (encryption) {
        cJSON_AddItemToObject(json, "encryptionConfiguration",
                              cJSON_Parse(encryption));
    }

    if (ctx->map_run.len) {
        ngx_http_sfn_json_add_str(json, "mapRunArn", &ctx->map_run);
        ngx_http_sfn_json_add_str(json, "label", &ctx->label);
    }

    return json;
}


static const char *
ngx_http_sfn_aws_text(PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}


static ngx_int_t
ngx_http_sfn_aws_described(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON                   *json;
    const char              *role;
    ngx_http_sfn_machine_t  *sm;

    sm = ngx_http_sfn_machine_find(ctx->smcf, &ctx->sm_name);

    if (res && PQntuples(res)
        && (sm || ngx_strcmp(PQgetvalue(res, 0, 6), "api") == 0))
    {
        /* nginx.conf's machines have the role nginx.conf gives them */

        if (sm) {
            role = (char *) sm->role.data;

        } else {
            role = PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4);
        }

        json = ngx_http_sfn_aws_sm_json(ctx, PQgetvalue(res, 0, 0),
                                        PQgetvalue(res, 0, 1),
                                        PQgetvalue(res, 0, 2),
                                        PQgetvalue(res, 0, 3), role,
                                        ngx_http_sfn_aws_epoch(res, 0, 5),
                                        ngx_http_sfn_aws_epoch(res, 0, 7),
                                        PQgetvalue(res, 0, 8),
                                        ngx_http_sfn_aws_text(res, 9),
                                        ngx_http_sfn_aws_text(res, 10),
                                        ngx_http_sfn_aws_text(res, 11));

    } else if (sm) {
        json = ngx_http_sfn_aws_sm_json(ctx, (char *) sm->arn.data,
                                        (char *) sm->name.data,
                                        sm->type == SFN_EXPRESS
                                        ? "EXPRESS" : "STANDARD",
                                        (char *) sm->definition.data,
                                        (char *) sm->role.data, 0, 0, NULL,
                                        NULL, NULL, NULL);

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
               "extract(epoch FROM updated_at), revision::text, "
               "logging_configuration::text, tracing_configuration::text, "
               "encryption_configuration::text "
               "FROM sfn_state_machines WHERE name = $1",
               1, values, ngx_http_sfn_aws_described);
}


/* DescribeStateMachine of a version: what it was when it was published */

static ngx_int_t
ngx_http_sfn_aws_version_described(ngx_http_sfn_aws_ctx_t *ctx,
    PGresult *res)
{
    cJSON  *json;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    json = ngx_http_sfn_aws_sm_json(ctx, PQgetvalue(res, 0, 0),
                                    PQgetvalue(res, 0, 1),
                                    PQgetvalue(res, 0, 2),
                                    PQgetvalue(res, 0, 3),
                                    ngx_http_sfn_aws_text(res, 4),
                                    ngx_http_sfn_aws_epoch(res, 0, 5),
                                    ngx_http_sfn_aws_epoch(res, 0, 5),
                                    PQgetvalue(res, 0, 6),
                                    ngx_http_sfn_aws_text(res, 7),
                                    ngx_http_sfn_aws_text(res, 8),
                                    ngx_http_sfn_aws_text(res, 9));
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!PQgetisnull(res, 0, 10) && !ctx->for_exec) {
        cJSON_AddStringToObject(json, "description", PQgetvalue(res, 0, 10));
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_describe_version(ngx_http_sfn_aws_ctx_t *ctx)
{
    const char  *values[2];

    if (!ctx->version) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidArn",
                                            "Invalid Arn: 'Resource type not "
                                            "valid in this context: an "
                                            "alias: %V'", &ctx->arn);
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_version_described(ctx, NULL);
    }

    values[0] = (char *) ngx_http_sfn_aws_cstr(ctx->r->pool, ctx->arn.data,
                                               ctx->arn.len);
    if (values[0] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* an execution still describes the version it runs, deleted or not */

    values[1] = ctx->for_exec ? "t" : "f";

    return ngx_http_sfn_aws_query(ctx,
               "SELECT arn, state_machine, type, definition, role_arn, "
               "extract(epoch FROM created_at), revision::text, "
               "logging_configuration::text, tracing_configuration::text, "
               "encryption_configuration::text, description "
               "FROM sfn_versions WHERE arn = $1 "
               "AND (NOT deleted OR $2::boolean)",
               2, values, ngx_http_sfn_aws_version_described);
}


ngx_int_t
ngx_http_sfn_aws_describe_sm(ngx_http_sfn_aws_ctx_t *ctx)
{
    ctx->qualify = 1;

    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ctx->qualifier.data) {
        return ngx_http_sfn_aws_describe_version(ctx);
    }

    return ngx_http_sfn_aws_describe_name(ctx);
}


/* an execution of a version is described with the version it runs */

static ngx_int_t
ngx_http_sfn_aws_exec_machine(ngx_http_sfn_aws_ctx_t *ctx, u_char *version,
    size_t len)
{
    if (len == 0) {
        return ngx_http_sfn_aws_describe_name(ctx);
    }

    ctx->arn.data = ngx_http_sfn_aws_cstr(ctx->r->pool, version, len);
    ctx->arn.len = len;
    ctx->version = 1;

    if (ctx->arn.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_describe_version(ctx);
}


static ngx_int_t
ngx_http_sfn_aws_exec_exists(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ExecutionDoesNotExist",
                                            "Execution Does Not Exist: '%V'",
                                            &ctx->arn);
    }

    return ngx_http_sfn_aws_exec_machine(ctx, (u_char *) PQgetvalue(res, 0, 0),
                                         PQgetlength(res, 0, 0));
}


ngx_int_t
ngx_http_sfn_aws_describe_sm_exec(ngx_http_sfn_aws_ctx_t *ctx)
{
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

    /*
     * a map run's child is described with its map run, its label and the
     * state machine of its map run's parent, as AWS does
     */

    switch (ngx_http_sfn_aws_map_run_of(ctx, &ctx->map_run, &ctx->label)) {

    case NGX_OK:
        ctx->sm_name.len = ctx->label.data - 1 - ctx->sm_name.data;
        ctx->sm_name.data = ngx_http_sfn_aws_cstr(ctx->r->pool,
                                                  ctx->sm_name.data,
                                                  ctx->sm_name.len);
        if (ctx->sm_name.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        break;

    case NGX_ERROR:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_sfn_shm_get(ctx->smcf, key, ctx->r->pool, &rec) == NGX_OK) {
        return ngx_http_sfn_aws_exec_machine(ctx, rec.version.data,
                                             rec.version.len);
    }

    values[0] = (char *) key->data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT coalesce(version_arn, '') FROM sfn_executions "
               "WHERE arn = $1",
               1, values, ngx_http_sfn_aws_exec_exists);
}


/* UpdateStateMachine */

static ngx_int_t
ngx_http_sfn_aws_update_reply(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON  *json;

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddNumberToObject(json, "updateDate", ctx->date);
    cJSON_AddStringToObject(json, "revisionId", (char *) ctx->revision);

    if (res) {
        cJSON_AddStringToObject(json, "stateMachineVersionArn",
                                PQgetvalue(res, 0, 1));
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_sfn_aws_updated(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{

    ngx_str_t  description;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "StateMachineDoesNotExist",
                                            "State Machine Does Not Exist: "
                                            "'%V'", &ctx->arn);
    }

    ctx->date = ngx_http_sfn_aws_epoch(res, 0, 0);
    ctx->revision = ngx_http_sfn_aws_cstr(ctx->r->pool,
                                          (u_char *) PQgetvalue(res, 0, 1),
                                          PQgetlength(res, 0, 1));
    if (ctx->revision == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ctx->publish) {
        return ngx_http_sfn_aws_update_reply(ctx, NULL);
    }

    /* the revision just written, or a ConflictException if another came */

    (void) ngx_http_sfn_aws_field(ctx, "versionDescription", 0,
                                  &description);

    return ngx_http_sfn_aws_publish_then(ctx, (char *) ctx->revision,
                                         (char *) description.data,
                                         ngx_http_sfn_aws_update_reply);
}


static ngx_int_t
ngx_http_sfn_aws_update_check(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    ngx_str_t       def, role;
    const char     *values[7];
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
    values[4] = ctx->logging;
    values[5] = ctx->tracing;
    values[6] = ctx->encryption;

    /* the revision read above fences a concurrent update */

    return ngx_http_sfn_aws_query(ctx,
               "UPDATE sfn_state_machines SET "
               "definition = COALESCE($2, definition), "
               "role_arn = COALESCE($3, role_arn), "
               "logging_configuration = "
               "COALESCE($5::jsonb, logging_configuration), "
               "tracing_configuration = "
               "COALESCE($6::jsonb, tracing_configuration), "
               "encryption_configuration = "
               "COALESCE($7::jsonb, encryption_configuration), "
               "revision = revision + 1, updated_at = now() "
               "WHERE name = $1 AND source = 'api' "
               "AND revision = $4::bigint "
               "RETURNING extract(epoch FROM updated_at), revision::text",
               7, values, ngx_http_sfn_aws_updated);
}


ngx_int_t
ngx_http_sfn_aws_update(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t    def, role, description;
    const char  *values[1];

    if (ngx_http_sfn_aws_sm_field(ctx, "stateMachineArn") != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "definition", 0, &def) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "roleArn", 0, &role) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "definition", &def, 1024 * 1024)
           != NGX_OK
        || ngx_http_sfn_aws_publish_fields(ctx, &description) != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ngx_http_sfn_aws_configs(ctx) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (def.data == NULL && role.data == NULL && ctx->logging == NULL
        && ctx->tracing == NULL && ctx->encryption == NULL)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "MissingRequiredParameter",
                   "Either the definition, the roleArn, the "
                   "loggingConfiguration, the tracingConfiguration or the "
                   "encryptionConfiguration must be specified");
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
    ngx_http_sfn_compiled_t  *am;

    am = ngx_http_sfn_machine_cached(&ctx->sm_name);

    if (am) {
        /* kept for the executions that still run it */
        ngx_queue_remove(&am->queue);
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, cJSON_CreateObject());
}


ngx_int_t
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


/*
 * ListStateMachines, by name; the cursor is the last name given.  With no
 * database the machines of nginx.conf are listed in their order there,
 * and the cursor is the index of the next one.
 */

#define NGX_HTTP_SFN_AWS_LIST_SMS  'M'


static ngx_int_t
ngx_http_sfn_aws_listed_sms(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    int                      i, n;
    cJSON                   *json, *list, *item;
    u_char                  *p, cursor[8];
    ngx_str_t                name;
    ngx_uint_t               k, first, next;
    ngx_http_sfn_machine_t  *sm;

    json = ngx_http_sfn_aws_list_reply("stateMachines", &list);

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (res == NULL) {
        /* no database: those of nginx.conf */

        sm = ctx->smcf->machines.elts;
        first = 0;

        for (k = 0; ctx->cursor.data && k < ctx->cursor.len; k++) {
            first = (first << 8) | ctx->cursor.data[k];
        }

        for (k = first; k < ctx->smcf->machines.nelts
                        && k < first + ctx->limit; k++)
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
            next = k;
            p = cursor;

            for (k = 0; k < 8; k++) {
                *p++ = (u_char) ((uint64_t) next >> (56 - 8 * k));
            }

            if (ngx_http_sfn_aws_next_token(ctx, json,
                                            NGX_HTTP_SFN_AWS_LIST_SMS,
                                            &ctx->bind, cursor, 8)
                != NGX_OK)
            {
                cJSON_Delete(json);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
    }

    n = PQntuples(res);

    for (i = 0; i < n && i < ctx->limit; i++) {
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

    if (n > ctx->limit
        && ngx_http_sfn_aws_next_token(ctx, json, NGX_HTTP_SFN_AWS_LIST_SMS,
               &ctx->bind, (u_char *) PQgetvalue(res, ctx->limit - 1, 1),
               PQgetlength(res, ctx->limit - 1, 1))
           != NGX_OK)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_list_sms(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t    name;
    ngx_uint_t   k;
    const char  *values[2];
    u_char       lim[NGX_INT_T_LEN + 1];

    /* a token of the database's list is no token of nginx.conf's */

    if (ctx->smcf->database.len) {
        ngx_str_set(&ctx->bind, "database");

    } else {
        ngx_str_set(&ctx->bind, "nginx.conf");
    }

    if (ngx_http_sfn_aws_page(ctx, 100, NGX_HTTP_SFN_AWS_LIST_SMS,
                              &ctx->bind)
        != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    ngx_str_null(&name);

    if (ctx->cursor.data && ctx->smcf->database.len
        && ngx_http_sfn_aws_cursor_name(ctx, ctx->cursor.data,
                                        ctx->cursor.len, &name)
           != NGX_OK)
    {
        goto invalid;
    }

    if (ctx->cursor.data && ctx->smcf->database.len == 0) {
        if (ctx->cursor.len != 8) {
            goto invalid;
        }

        for (k = 0; k < 4; k++) {
            if (ctx->cursor.data[k]) {
                goto invalid;
            }
        }
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_aws_listed_sms(ctx, NULL);
    }

    *ngx_sprintf(lim, "%i", ctx->limit + 1) = '\0';

    values[0] = (char *) lim;
    values[1] = (char *) name.data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT arn, name, type, extract(epoch FROM created_at), "
               "source FROM sfn_state_machines "
               "WHERE name > coalesce($2::text, '') ORDER BY name "
               "LIMIT $1::bigint",
               2, values, ngx_http_sfn_aws_listed_sms);

invalid:

    return ngx_http_sfn_aws_reply_error(ctx, "InvalidToken",
                                        "Invalid Token: 'the token is not "
                                        "one of this request'");
}


static void
ngx_http_sfn_aws_diagnostic(cJSON *d, const char *severity, sfn_diag_t *diag)
{
    cJSON_AddStringToObject(d, "severity", severity);
    cJSON_AddStringToObject(d, "code", diag->code);
    cJSON_AddStringToObject(d, "message", diag->message);

    /* AWS leaves the location out of a diagnostic of the whole */

    if (diag->location[0] != '\0') {
        cJSON_AddStringToObject(d, "location", diag->location);
    }
}


/*
 * ValidateStateMachineDefinition: every diagnostic, as AWS lists them, up
 * to its maxResults (default 100, at most 100); truncated when there may
 * be more.
 */

ngx_int_t
ngx_http_sfn_aws_validate(ngx_http_sfn_aws_ctx_t *ctx)
{
    size_t          i, n, w, k;
    cJSON          *json, *list, *d;
    ngx_int_t       max;
    ngx_str_t       def, type, severity;
    sfn_diag_t     *diag, *warn;
    sfn_machine_t  *m;

    max = 0;

    if (ngx_http_sfn_aws_field(ctx, "definition", 1, &def) != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "type", 0, &type) == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "severity", 0, &severity)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "definition", &def, 1024 * 1024)
           != NGX_OK
        || ngx_http_sfn_aws_number(ctx, "maxResults", 0, 100, &max)
           == NGX_ERROR)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    /* 0, or none, is the default */

    n = max ? (size_t) max : 100;

    /* one more than asked for tells whether the list is cut */

    diag = ngx_palloc(ctx->r->pool, (n + 1) * sizeof(sfn_diag_t));
    warn = ngx_palloc(ctx->r->pool, (n + 1) * sizeof(sfn_diag_t));
    json = cJSON_CreateObject();
    list = cJSON_CreateArray();

    if (diag == NULL || warn == NULL || json == NULL || list == NULL) {
        cJSON_Delete(json);
        cJSON_Delete(list);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m = ngx_http_sfn_machine_load(&def,
                              (type.data
                               && ngx_strcmp(type.data, "EXPRESS") == 0)
                              ? SFN_EXPRESS : SFN_STANDARD, diag, n + 1, &i);

    if (m) {
        sfn_machine_free(m);
        cJSON_AddStringToObject(json, "result", "OK");
        i = 0;

    } else {
        cJSON_AddStringToObject(json, "result", "FAIL");
    }

    /* the errors, then the warnings, which leave the result OK */

    /* severity ERROR asks for the errors alone */

    w = (severity.data && ngx_strcmp(severity.data, "ERROR") == 0)
        ? 0 : sfn_machine_lint((char *) def.data, def.len, warn, n + 1);

    cJSON_AddItemToObject(json, "diagnostics", list);
    cJSON_AddBoolToObject(json, "truncated", i + w > n);

    i = ngx_min(i, n);
    w = ngx_min(w, n - i);

    for (k = 0; k < i + w; k++) {
        d = cJSON_CreateObject();
        cJSON_AddItemToArray(list, d);

        if (k < i) {
            ngx_http_sfn_aws_diagnostic(d, "ERROR", &diag[k]);

        } else {
            ngx_http_sfn_aws_diagnostic(d, "WARNING", &warn[k - i]);
        }
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
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


ngx_int_t
ngx_http_sfn_aws_tag(ngx_http_sfn_aws_ctx_t *ctx)
{
    char        *tags;
    cJSON       *list;
    const char  *values[2];

    if (ngx_http_sfn_aws_resource(ctx) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    list = cJSON_GetObjectItemCaseSensitive(ctx->body, "tags");

    if (list == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "1 validation error detected: Value null at 'tags' "
                   "failed to satisfy constraint: Member must not be null");
    }

    tags = ngx_http_sfn_aws_tags(ctx, list);
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


ngx_int_t
ngx_http_sfn_aws_untag(ngx_http_sfn_aws_ctx_t *ctx)
{
    char        *text;
    cJSON       *keys, *key;
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

    /* each a TagKey of the model: a string of 1 to 128 characters */

    cJSON_ArrayForEach(key, keys) {
        if (!cJSON_IsString(key)) {
            return ngx_http_sfn_aws_reply_error(ctx, "SerializationException",
                                                "Unexpected value type for "
                                                "'tagKeys.member'");
        }

        if (key->valuestring[0] == '\0' || ngx_strlen(key->valuestring) > 128)
        {
            return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                       "1 validation error detected: Value at "
                       "'tagKeys.member' failed to satisfy constraint: "
                       "Member must have length between 1 and 128");
        }
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


ngx_int_t
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
