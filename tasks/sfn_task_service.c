
/*
 * Copyright (C) ngx_sfn authors
 *
 * Service integrations: the AWS resources a definition names (Lambda
 * functions, SNS topics, Glue jobs, SageMaker jobs, models and endpoints,
 * Batch job queues, S3 buckets) sent to the user's HTTP endpoints by
 * sfn_integration rules, without editing the definition.
 *
 *   request/response   POST the parameters, the JSON reply is the result
 *   .sync              the same start, then GET the job (the reply's
 *                      Location, or URL/<id>) every poll interval until
 *                      its status is terminal; no thread waits meanwhile
 *                      (SFN_TASK_AGAIN)
 *   .waitForTaskToken  the start carries the token; the result comes with
 *                      SendTaskSuccess/Failure
 *
 * One row per AWS action: the parameter that names the resource, the
 * resource's ARN, and for jobs the id, status and result of a poll.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_task_int.h"


#define SFN_SERVICE_ARN_MAX     2048
#define SFN_SERVICE_POLL_FAILS  5       /* polls failed in a row */


/* who serves an action's calls */
#define SFN_SERVICE_RULES    0      /* the rules only */
#define SFN_SERVICE_HANDLER  1      /* a built-in task, which asks for a rule */
#define SFN_SERVICE_BUILTIN  2      /* a built-in task, unless a rule matches */


typedef struct {
    int          serve;
    const char  *action;        /* after "arn:aws:states:::" */
    const char  *selector;      /* the parameter naming the resource */
    const char  *arn;           /* its ARN: $r region, $a account, $n name */
    const char  *prefix;        /* of error names: "Glue" */
    const char  *notfound;      /* AWS's error for a resource unknown */
    const char  *id;            /* the start reply's id of the job */
    const char  *status;        /* where a job reply holds its status */
    const char  *result;        /* the member that is the .sync result */
    const char  *succeeded;     /* terminal statuses, '|' separated */
    const char  *failed;
} sfn_service_t;


static const sfn_service_t  sfn_services[] = {

    /* served by sfn:http:invoke and sfn:notify, which ask for a rule */

    { SFN_SERVICE_HANDLER, "lambda:invoke", "FunctionName",
      "arn:aws:lambda:$r:$a:function:$n",
      "Lambda", "Lambda.ResourceNotFoundException", NULL, NULL, NULL, NULL, NULL },

    { SFN_SERVICE_HANDLER, "sns:publish", "TopicArn",
      "arn:aws:sns:$r:$a:$n",
      "SNS", "SNS.NotFoundException", NULL, NULL, NULL, NULL, NULL },

    /* jobs */

    { SFN_SERVICE_RULES, "glue:startJobRun", "JobName",
      "arn:aws:glue:$r:$a:job/$n",
      "Glue", "Glue.EntityNotFoundException", "JobRunId", "JobRun.JobRunState", "JobRun",
      "SUCCEEDED", "FAILED|TIMEOUT|ERROR|STOPPED" },

    { SFN_SERVICE_RULES, "sagemaker:createTrainingJob", "TrainingJobName",
      "arn:aws:sagemaker:$r:$a:training-job/$n",
      "SageMaker", "SageMaker.ResourceNotFound", NULL, "TrainingJobStatus", NULL,
      "Completed", "Failed|Stopped" },

    { SFN_SERVICE_RULES, "sagemaker:createTransformJob", "TransformJobName",
      "arn:aws:sagemaker:$r:$a:transform-job/$n",
      "SageMaker", "SageMaker.ResourceNotFound", NULL, "TransformJobStatus", NULL,
      "Completed", "Failed|Stopped" },

    { SFN_SERVICE_RULES, "sagemaker:createProcessingJob",
      "ProcessingJobName",
      "arn:aws:sagemaker:$r:$a:processing-job/$n",
      "SageMaker", "SageMaker.ResourceNotFound", NULL, "ProcessingJobStatus", NULL,
      "Completed", "Failed|Stopped" },

    { SFN_SERVICE_RULES, "batch:submitJob", "JobQueue",
      "arn:aws:batch:$r:$a:job-queue/$n",
      "Batch", "Batch.ClientException", "JobId", "status", NULL,
      "SUCCEEDED", "FAILED" },

    /* request/response */

    { SFN_SERVICE_RULES, "sagemaker:createModel", "ModelName",
      "arn:aws:sagemaker:$r:$a:model/$n",
      "SageMaker", "SageMaker.ResourceNotFound", NULL, NULL, NULL, NULL, NULL },

    { SFN_SERVICE_RULES, "sagemaker:createEndpointConfig",
      "EndpointConfigName",
      "arn:aws:sagemaker:$r:$a:endpoint-config/$n",
      "SageMaker", "SageMaker.ResourceNotFound", NULL, NULL, NULL, NULL, NULL },

    { SFN_SERVICE_RULES, "sagemaker:createEndpoint", "EndpointName",
      "arn:aws:sagemaker:$r:$a:endpoint/$n",
      "SageMaker", "SageMaker.ResourceNotFound", NULL, NULL, NULL, NULL, NULL },

    { SFN_SERVICE_RULES, "sagemaker:updateEndpoint", "EndpointName",
      "arn:aws:sagemaker:$r:$a:endpoint/$n",
      "SageMaker", "SageMaker.ResourceNotFound", NULL, NULL, NULL, NULL, NULL },

    { SFN_SERVICE_RULES, "aws-sdk:s3:listObjectsV2", "Bucket",
      "arn:aws:s3:::$n",
      "S3", "S3.NoSuchBucket", NULL, NULL, NULL, NULL, NULL },

    /* the jobs table unless a rule names the table */

    { SFN_SERVICE_BUILTIN, "dynamodb:putItem", "TableName",
      "arn:aws:dynamodb:$r:$a:table/$n",
      "DynamoDB", "DynamoDB.ResourceNotFoundException", NULL, NULL, NULL, NULL, NULL },

    { SFN_SERVICE_BUILTIN, "dynamodb:updateItem", "TableName",
      "arn:aws:dynamodb:$r:$a:table/$n",
      "DynamoDB", "DynamoDB.ResourceNotFoundException", NULL, NULL, NULL, NULL, NULL },

    { SFN_SERVICE_BUILTIN, "dynamodb:getItem", "TableName",
      "arn:aws:dynamodb:$r:$a:table/$n",
      "DynamoDB", "DynamoDB.ResourceNotFoundException", NULL, NULL, NULL, NULL, NULL },

    { 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};


static int sfn_service_arn(const sfn_service_t *sv,
    const sfn_service_map_t *map, const char *name, char *buf, size_t size);


/* IAM's wildcards: '*' any run of characters, '?' one */

static int
sfn_service_glob(const char *p, const char *s)
{
    const char  *star, *next;

    star = NULL;
    next = NULL;

    while (*s) {
        if (*p == '?' || (*p == *s && *p != '*')) {
            p++;
            s++;

        } else if (*p == '*') {
            star = p++;
            next = s;

        } else if (star) {
            p = star + 1;
            s = ++next;

        } else {
            return 0;
        }
    }

    while (*p == '*') {
        p++;
    }

    return *p == '\0';
}


static int
sfn_service_literal(const char *pattern)
{
    return strpbrk(pattern, "*?") == NULL;
}


/* the length of a resource without ".sync" or ".waitForTaskToken" */

static size_t
sfn_service_base_len(const char *resource)
{
    size_t  len;

    len = strlen(resource);

    if (len > 5 && strcmp(resource + len - 5, ".sync") == 0) {
        return len - 5;
    }

    if (len > 17 && strcmp(resource + len - 17, ".waitForTaskToken") == 0) {
        return len - 17;
    }

    return len;
}


/* the row of "arn:aws:states:::ACTION[.sync|.waitForTaskToken]" */

static const sfn_service_t *
sfn_service_find(const char *resource)
{
    size_t                len;
    const sfn_service_t  *sv;

    if (strncmp(resource, "arn:aws:states:::", 17) != 0) {
        return NULL;
    }

    len = sfn_service_base_len(resource) - 17;
    resource += 17;

    for (sv = sfn_services; sv->action; sv++) {
        if (strlen(sv->action) == len
            && strncmp(sv->action, resource, len) == 0)
        {
            return sv;
        }
    }

    return NULL;
}


/* the fixed head of a row's ARNs: "arn:aws:glue:" */

static size_t
sfn_service_head(const sfn_service_t *sv)
{
    const char  *p;

    p = strchr(sv->arn, '$');

    return p ? (size_t) (p - sv->arn) : strlen(sv->arn);
}


/* non-zero when pattern may match an ARN of the row, or the row itself */

static int
sfn_service_serves(const sfn_service_t *sv, const char *pattern)
{
    char    integration[128];
    size_t  head, lit;

    snprintf(integration, sizeof(integration), "arn:aws:states:::%s",
             sv->action);

    if (sfn_service_glob(pattern, integration)) {
        return 1;
    }

    head = sfn_service_head(sv);
    lit = strcspn(pattern, "*?");

    /* one of the fixed parts starts the other */

    return strncmp(pattern, sv->arn, lit < head ? lit : head) == 0;
}


const char *
sfn_service_pattern_check(const char *pattern)
{
    size_t                len;
    const char           *p;
    const sfn_service_t  *sv;

    len = strlen(pattern);

    if (len == 0 || len > 1024) {
        return "must be 1..1024 characters";
    }

    for (p = pattern; *p; p++) {
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f) {
            return "must be printable ASCII";
        }
    }

    if (sfn_service_base_len(pattern) != len) {
        return "names the resource without \".sync\" or "
               "\".waitForTaskToken\": the suffix of a Task's Resource "
               "says how it is called";
    }

    if (strncmp(pattern, "arn:", 4) != 0 && strcmp(pattern, "*") != 0) {
        return "is not an ARN";
    }

    if (strncmp(pattern, "arn:aws:states:::", 17) == 0
        && sfn_service_literal(pattern) && sfn_service_find(pattern) == NULL)
    {
        return sfn_task_find(pattern)
               ? "runs as a built-in task only"
               : "is not a service integration this module can send to "
                 "an endpoint";
    }

    for (sv = sfn_services; sv->action; sv++) {
        if (sfn_service_serves(sv, pattern)) {
            return NULL;
        }
    }

    return "names no resource of a service integration (Lambda "
           "functions, SNS topics, Glue jobs, SageMaker jobs, models and "
           "endpoints, Batch job queues, S3 buckets)";
}


const sfn_service_rule_t *
sfn_service_match(const sfn_service_map_t *map, const char *target,
    const char *integration)
{
    size_t       i, n;
    const char  *s[2];

    if (map == NULL) {
        return NULL;
    }

    s[0] = target;
    s[1] = integration;

    /* an exact ARN first, then the first pattern that matches, in order */

    for (n = 0; n < 2; n++) {
        if (s[n] == NULL) {
            continue;
        }

        for (i = 0; i < map->nrules; i++) {
            if (sfn_service_literal(map->rules[i].pattern)
                && strcmp(map->rules[i].pattern, s[n]) == 0)
            {
                return &map->rules[i];
            }
        }

        for (i = 0; i < map->nrules; i++) {
            if (!sfn_service_literal(map->rules[i].pattern)
                && sfn_service_glob(map->rules[i].pattern, s[n]))
            {
                return &map->rules[i];
            }
        }
    }

    return NULL;
}


int
sfn_service_known(const sfn_service_map_t *map, const char *resource)
{
    size_t                i;
    const sfn_service_t  *sv;

    if (sfn_task_find(resource)) {
        return 1;
    }

    if (map == NULL || map->nrules == 0) {
        return 0;
    }

    sv = sfn_service_find(resource);

    if (sv == NULL) {
        /*
         * a resource named directly: a function ARN, as Lambda's; an
         * integration the table does not have is not one
         */

        return strncmp(resource, "arn:aws:states:::", 17) != 0
               && sfn_service_base_len(resource) == strlen(resource)
               && sfn_service_match(map, resource, NULL) != NULL;
    }

    /* the resource a call selects is known only when it runs */

    for (i = 0; i < map->nrules; i++) {
        if (sfn_service_serves(sv, map->rules[i].pattern)) {
            return 1;
        }
    }

    return 0;
}


int
sfn_task_service_mapped(const sfn_task_call_t *call)
{
    char                  arn[SFN_SERVICE_ARN_MAX], integration[128];
    const char           *name;
    const sfn_service_t  *sv;

    sv = sfn_service_find(call->resource);

    if (sv == NULL || sv->serve != SFN_SERVICE_BUILTIN || call->env == NULL
        || call->env->services == NULL || call->env->services->nrules == 0)
    {
        return 0;
    }

    name = sfn_task_string(call->input, sv->selector);

    if (name == NULL
        || sfn_service_arn(sv, call->env->services, name, arn, sizeof(arn))
           != 0)
    {
        return 0;
    }

    snprintf(integration, sizeof(integration), "arn:aws:states:::%s",
             sv->action);

    return sfn_service_match(call->env->services, arn, integration) != NULL;
}


void
sfn_task_call_free(sfn_task_call_t *call)
{
    cJSON_Delete(call->state);
    call->state = NULL;
}


/* a row's ARN for a name; the name itself when it is an ARN already */

static int
sfn_service_arn(const sfn_service_t *sv, const sfn_service_map_t *map,
    const char *name, char *buf, size_t size)
{
    size_t       n, len;
    const char  *p, *v;

    if (strncmp(name, "arn:", 4) == 0) {
        len = strlen(name);

        if (len >= size) {
            return -1;
        }

        memcpy(buf, name, len + 1);
        return 0;
    }

    n = 0;

    for (p = sv->arn; *p; p++) {
        v = NULL;

        if (p[0] == '$' && p[1] == 'r') {
            v = map->region;

        } else if (p[0] == '$' && p[1] == 'a') {
            v = map->account;

        } else if (p[0] == '$' && p[1] == 'n') {
            v = name;
        }

        if (v) {
            len = strlen(v);

            if (n + len >= size) {
                return -1;
            }

            memcpy(buf + n, v, len);
            n += len;
            p++;
            continue;
        }

        if (n + 1 >= size) {
            return -1;
        }

        buf[n++] = *p;
    }

    buf[n] = '\0';

    return 0;
}


const sfn_service_rule_t *
sfn_task_service_rule(sfn_task_call_t *call, const char *selector,
    const char *value, char *arn, size_t size)
{
    char                       quoted[1100], integration[128];
    const sfn_service_t       *sv;
    const sfn_service_map_t   *map;
    const sfn_service_rule_t  *rule;

    sv = sfn_service_find(call->resource);
    map = call->env ? call->env->services : NULL;

    if (sv == NULL || value == NULL || value[0] == '\0') {
        sfn_task_fail(call, sv ? sv->notfound : "States.TaskFailed",
                      "\"%s\" is required", selector);
        return NULL;
    }

    sfn_task_quote(quoted, sizeof(quoted), value, strlen(value));

    if (map == NULL
        || sfn_service_arn(sv, map, value, arn, size) != 0
        || !sfn_task_text_valid(arn, strlen(arn)))
    {
        sfn_task_fail(call, sv->notfound,
                      "%s \"%s\" has no sfn_integration", selector, quoted);
        return NULL;
    }

    snprintf(integration, sizeof(integration), "arn:aws:states:::%s",
             sv->action);

    rule = sfn_service_match(map, arn, integration);

    if (rule == NULL) {
        sfn_task_quote(quoted, sizeof(quoted), arn, strlen(arn));
        sfn_task_fail(call, sv->notfound,
                      "no sfn_integration for \"%s\" (%s %s)", quoted,
                      sv->action, selector);
        return NULL;
    }

    return rule;
}


/* a member by a dotted path: "JobRun.JobRunState" */

static const cJSON *
sfn_service_member(const cJSON *obj, const char *path)
{
    char          name[64];
    size_t        n;
    const char   *dot;
    const cJSON  *v;

    v = obj;

    while (v && *path) {
        dot = strchr(path, '.');
        n = dot ? (size_t) (dot - path) : strlen(path);

        if (n >= sizeof(name)) {
            return NULL;
        }

        memcpy(name, path, n);
        name[n] = '\0';

        v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, name)
                              : NULL;
        path += dot ? n + 1 : n;
    }

    return v;
}


/* the status of a job reply: at the row's path, or its last name on top */

static const char *
sfn_service_status(const sfn_service_t *sv, const cJSON *reply)
{
    const char   *last;
    const cJSON  *v;

    v = sfn_service_member(reply, sv->status);

    if (v == NULL) {
        last = strrchr(sv->status, '.');
        v = last ? cJSON_GetObjectItemCaseSensitive(reply, last + 1) : NULL;
    }

    return cJSON_IsString(v) ? v->valuestring : NULL;
}


static int
sfn_service_in(const char *list, const char *s)
{
    size_t       n;
    const char  *p;

    n = strlen(s);

    for (p = list; *p; p += (p[0] == '|')) {
        if (strncmp(p, s, n) == 0 && (p[n] == '|' || p[n] == '\0')) {
            return 1;
        }

        p += strcspn(p, "|");
    }

    return 0;
}


/* an error name of the endpoint's reply, as AWS prefixes its services' */

static int
sfn_service_error(sfn_task_call_t *call, const sfn_service_t *sv,
    const char *method, const char *url, sfn_http_res_t *res)
{
    char          name[sizeof(call->error)];
    size_t        n;
    cJSON        *reply;
    const char   *type, *p;

    reply = res->body ? cJSON_ParseWithLength(res->body, res->len) : NULL;

    type = sfn_task_string(reply, "__type");
    if (type == NULL) {
        type = sfn_task_string(reply, "errorType");
    }

    /* "com.amazonaws.glue#EntityNotFoundException" is its last part */

    if (type && (p = strrchr(type, '#'))) {
        type = p + 1;
    }

    n = type ? strspn(type, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
                            "uvwxyz0123456789_") : 0;

    if (type && n && type[n] == '\0' && n < 64) {
        snprintf(name, sizeof(name), "%s.%s", sv->prefix, type);

    } else {
        snprintf(name, sizeof(name), "States.TaskFailed");
    }

    cJSON_Delete(reply);

    return sfn_task_fail(call, name, "%s \"%s\" answered HTTP %ld: %s",
                         method, url, res->status,
                         sfn_task_http_excerpt(res));
}


/* the same scheme, host and port as the endpoint */

static int
sfn_service_same_origin(const char *a, const char *b)
{
    int          same;
    char        *sa, *sb, *ha, *hb, *pa, *pb;
    CURLU       *ua, *ub;

    ua = curl_url();
    ub = curl_url();
    same = 0;

    if (ua && ub
        && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK
        && curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK
        && curl_url_get(ua, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK)
    {
        sb = ha = hb = pa = pb = NULL;

        (void) curl_url_get(ub, CURLUPART_SCHEME, &sb, 0);
        (void) curl_url_get(ua, CURLUPART_HOST, &ha, 0);
        (void) curl_url_get(ub, CURLUPART_HOST, &hb, 0);
        (void) curl_url_get(ua, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT);
        (void) curl_url_get(ub, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT);

        same = sb && ha && hb && pa && pb
               && strcmp(sa, sb) == 0 && strcmp(ha, hb) == 0
               && strcmp(pa, pb) == 0;

        curl_free(sa);
        curl_free(sb);
        curl_free(ha);
        curl_free(hb);
        curl_free(pa);
        curl_free(pb);
    }

    curl_url_cleanup(ua);
    curl_url_cleanup(ub);

    return same;
}


/*
 * Where a job is polled: the start reply's Location resolved against the
 * endpoint (on the endpoint's own host only), else URL/<id>.  malloc()ed.
 */

static char *
sfn_service_poll_url(sfn_task_call_t *call, const char *url,
    const char *location, const char *id)
{
    char   *s, *esc, *poll;
    CURLU  *u;

    if (location[0]) {
        u = curl_url();
        s = NULL;

        if (u == NULL
            || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK
            || curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK
            || curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
        {
            curl_url_cleanup(u);
            sfn_task_fail(call, "States.TaskFailed",
                          "the job's Location \"%s\" is not a URL",
                          location);
            return NULL;
        }

        curl_url_cleanup(u);

        if (!sfn_service_same_origin(url, s)) {
            sfn_task_fail(call, "States.TaskFailed",
                          "the job's Location \"%s\" is not on the "
                          "endpoint's host", location);
            curl_free(s);
            return NULL;
        }

        poll = strdup(s);
        curl_free(s);

        return poll;
    }

    esc = curl_easy_escape(NULL, id, 0);
    if (esc == NULL) {
        return NULL;
    }

    poll = malloc(strlen(url) + strlen(esc) + 2);

    if (poll) {
        sprintf(poll, "%s%s%s", url, url[strlen(url) - 1] == '/' ? "" : "/",
                esc);
    }

    curl_free(esc);

    return poll;
}


/* a terminal job: its result, or States.TaskFailed with it as the cause */

static int
sfn_service_done(sfn_task_call_t *call, const sfn_service_t *sv,
    cJSON *reply, const char *status)
{
    char          *text;
    cJSON         *r;

    r = sv->result ? cJSON_DetachItemFromObjectCaseSensitive(reply,
                                                             sv->result)
                   : NULL;
    if (r == NULL) {
        r = reply;
        reply = NULL;
    }

    cJSON_Delete(reply);

    if (sfn_service_in(sv->succeeded, status)) {
        call->output = r;
        return SFN_TASK_OK;
    }

    text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);

    sfn_task_fail(call, "States.TaskFailed", "%s", text ? text : status);
    free(text);

    return SFN_TASK_FAILED;
}


/* a reply as JSON, or the call failed */

static cJSON *
sfn_service_parse(sfn_task_call_t *call, const char *method,
    const char *url, sfn_http_res_t *res, int object)
{
    cJSON  *reply;

    reply = res->len ? cJSON_ParseWithLength(res->body, res->len)
                     : cJSON_CreateObject();

    if (reply == NULL || (object && !cJSON_IsObject(reply))) {
        cJSON_Delete(reply);
        sfn_task_fail(call, "States.TaskFailed",
                      "%s \"%s\": the reply is not a JSON %s: %s", method,
                      url, object ? "object" : "value",
                      sfn_task_http_excerpt(res));
        return NULL;
    }

    return reply;
}


static int
sfn_service_poll(sfn_task_call_t *call, const sfn_service_t *sv)
{
    int                 rc, fails;
    long                timeout, poll;
    cJSON              *reply;
    const char         *url, *status;
    const cJSON        *v;
    sfn_http_res_t      res;
    struct curl_slist  *h;

    url = sfn_task_string(call->state, "poll");
    v = cJSON_GetObjectItemCaseSensitive(call->state, "timeout");
    timeout = cJSON_IsNumber(v) ? (long) v->valuedouble : 60000;
    v = cJSON_GetObjectItemCaseSensitive(call->state, "interval");
    poll = cJSON_IsNumber(v) ? (long) v->valuedouble : 5000;
    v = cJSON_GetObjectItemCaseSensitive(call->state, "fails");
    fails = cJSON_IsNumber(v) ? v->valueint : 0;

    if (url == NULL) {
        return sfn_task_fail(call, "States.Runtime", "no poll URL");
    }

    h = sfn_task_http_headers(call, NULL);
    rc = sfn_task_http_request(call, url, NULL, h, timeout, &res);
    curl_slist_free_all(h);

    if (rc == SFN_HTTP_CANCELLED) {
        free(res.body);
        return sfn_task_fail(call, "States.Timeout",
                             "GET \"%s\" was cancelled", url);
    }

    /* a transient failure is polled again; a job that is gone is failed */

    if ((rc == SFN_HTTP_TRANSPORT
         || res.status >= 500 || res.status == 429)
        && fails + 1 < SFN_SERVICE_POLL_FAILS)
    {
        free(res.body);
        cJSON_DeleteItemFromObjectCaseSensitive(call->state, "fails");
        cJSON_AddNumberToObject(call->state, "fails", fails + 1);
        call->again = poll;
        return SFN_TASK_AGAIN;
    }

    if (rc == SFN_HTTP_TRANSPORT) {
        sfn_task_fail(call, "States.TaskFailed",
                      "GET \"%s\" failed %d times: %s", url,
                      SFN_SERVICE_POLL_FAILS, res.err);
        free(res.body);
        return SFN_TASK_FAILED;
    }

    if (res.status < 200 || res.status > 299) {
        rc = sfn_service_error(call, sv, "GET", url, &res);
        free(res.body);
        return rc;
    }

    reply = sfn_service_parse(call, "GET", url, &res, 1);
    free(res.body);

    if (reply == NULL) {
        return SFN_TASK_FAILED;
    }

    status = sfn_service_status(sv, reply);

    if (status == NULL) {
        cJSON_Delete(reply);
        return sfn_task_fail(call, "States.TaskFailed",
                             "GET \"%s\": the reply has no %s", url,
                             sv->status);
    }

    if (sfn_service_in(sv->succeeded, status)
        || sfn_service_in(sv->failed, status))
    {
        return sfn_service_done(call, sv, reply, status);
    }

    cJSON_Delete(reply);

    cJSON_DeleteItemFromObjectCaseSensitive(call->state, "fails");
    call->again = poll;

    return SFN_TASK_AGAIN;
}


int
sfn_task_service(sfn_task_call_t *call)
{
    int                        rc, sync;
    char                       arn[SFN_SERVICE_ARN_MAX], hdr[2200];
    char                      *body, *poll;
    cJSON                     *reply;
    const char                *name, *status, *id;
    const cJSON               *v;
    sfn_http_res_t             res;
    struct curl_slist         *h;
    const sfn_service_t       *sv;
    const sfn_service_rule_t  *rule;

    sv = sfn_service_find(call->resource);

    if (sv == NULL) {
        /* a function named by its ARN: its input in, its result out */

        rule = call->env && sfn_service_known(call->env->services,
                                              call->resource)
               ? sfn_service_match(call->env->services, call->resource, NULL)
               : NULL;

        if (rule == NULL) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "no sfn_integration for \"%s\"",
                                 call->resource);
        }

        return sfn_task_http_lambda(call, rule->url, call->resource,
                                    rule->timeout,
                                    strncmp(call->resource,
                                            "arn:aws:lambda:", 15) == 0
                                    ? SFN_HTTP_LAMBDA|SFN_HTTP_RULE
                                    : SFN_HTTP_RULE);
    }

    if (call->state) {
        return sfn_service_poll(call, sv);
    }

    if (!cJSON_IsObject(call->input)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the Parameters are not an object");
    }

    v = cJSON_GetObjectItemCaseSensitive(call->input, sv->selector);
    name = cJSON_IsString(v) ? v->valuestring : NULL;

    rule = sfn_task_service_rule(call, sv->selector, name, arn, sizeof(arn));
    if (rule == NULL) {
        return SFN_TASK_FAILED;
    }

    sync = sfn_service_base_len(call->resource) + 5 == strlen(call->resource)
           && sv->status != NULL;

    body = cJSON_PrintUnformatted(call->input);
    if (body == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    /* one endpoint may serve several actions and resources */

    h = sfn_task_http_headers(call, NULL);
    snprintf(hdr, sizeof(hdr), "X-Sfn-Action: %s", sv->action);
    h = curl_slist_append(h, hdr);
    snprintf(hdr, sizeof(hdr), "X-Sfn-Resource: %s", arn);
    h = curl_slist_append(h, hdr);

    rc = sfn_task_http_request(call, rule->url, body, h, rule->timeout, &res);

    curl_slist_free_all(h);
    free(body);

    if (rc == SFN_HTTP_CANCELLED) {
        free(res.body);
        return sfn_task_fail(call, "States.Timeout",
                             "POST \"%s\" was cancelled", rule->url);
    }

    if (rc == SFN_HTTP_TRANSPORT) {
        sfn_task_fail(call, "States.TaskFailed", "POST \"%s\" failed: %s",
                      rule->url, res.err);
        free(res.body);
        return SFN_TASK_FAILED;
    }

    if (res.status < 200 || res.status > 299) {
        rc = sfn_service_error(call, sv, "POST", rule->url, &res);
        free(res.body);
        return rc;
    }

    reply = sfn_service_parse(call, "POST", rule->url, &res, sync);

    if (reply == NULL) {
        free(res.body);
        return SFN_TASK_FAILED;
    }

    if (!sync) {
        free(res.body);
        call->output = reply;
        return SFN_TASK_OK;
    }

    /* .sync: a job done at once, or the first poll after the interval */

    status = sfn_service_status(sv, reply);

    if (status && (sfn_service_in(sv->succeeded, status)
                   || sfn_service_in(sv->failed, status)))
    {
        free(res.body);
        return sfn_service_done(call, sv, reply, status);
    }

    id = sv->id ? sfn_task_string(reply, sv->id) : name;

    if (res.location[0] == '\0' && (id == NULL || id[0] == '\0')) {
        free(res.body);
        cJSON_Delete(reply);
        return sfn_task_fail(call, "States.TaskFailed",
                             "POST \"%s\": the reply has no %s and no "
                             "Location to poll the job at", rule->url,
                             sv->id);
    }

    poll = sfn_service_poll_url(call, rule->url, res.location, id);

    free(res.body);
    cJSON_Delete(reply);

    if (poll == NULL) {
        return call->error[0] ? SFN_TASK_FAILED
               : sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    call->state = cJSON_CreateObject();

    if (call->state == NULL
        || cJSON_AddStringToObject(call->state, "poll", poll) == NULL
        || cJSON_AddNumberToObject(call->state, "timeout",
                                   (double) rule->timeout) == NULL
        || cJSON_AddNumberToObject(call->state, "interval",
                                   (double) rule->poll) == NULL)
    {
        free(poll);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    free(poll);
    call->again = rule->poll;

    return SFN_TASK_AGAIN;
}
