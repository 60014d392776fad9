
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:http:invoke - the Lambda analogue: POST JSON to a URL, use the JSON
 * reply.  sfn:notify - the SNS analogue: a webhook POST with retries.
 *
 *   invoke  {"url" | "FunctionName": "http(s)://...", "Payload": ...,
 *            "InvocationType", "timeoutSeconds"}
 *   notify  {"url", "TopicArn", "Subject", "Message", "MessageAttributes",
 *            "timeoutSeconds"}
 *
 * There is no Lambda or SNS here to resolve an ARN, so the function or the
 * topic is named by its URL: "url", or a "FunctionName"/"TopicArn" that is
 * itself an http(s) URL.  Anything else fails with a cause saying so.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "sfn_task_int.h"


#define SFN_HTTP_TIMEOUT         60
#define SFN_HTTP_CONNECT_TIMEOUT 10
#define SFN_NOTIFY_TIMEOUT       10
#define SFN_NOTIFY_ATTEMPTS      3
#define SFN_NOTIFY_BACKOFF_MS    500


static int sfn_task_http_invoke(sfn_task_call_t *call);
static int sfn_task_notify(sfn_task_call_t *call);


const sfn_task_def_t  sfn_task_http_defs[] = {
    { "sfn:http:invoke", sfn_task_http_invoke },
    { "sfn:notify", sfn_task_notify },
    { NULL, NULL }
};


static int
sfn_http_is_url(const char *s)
{
    return s && (strncasecmp(s, "http://", 7) == 0
                 || strncasecmp(s, "https://", 8) == 0);
}


static int
sfn_http_aws_form(const sfn_task_call_t *call, const char *arn)
{
    return strncmp(call->resource, arn, strlen(arn)) == 0;
}


static size_t
sfn_http_write(char *ptr, size_t size, size_t nmemb, void *data)
{
    size_t           n, want;
    char            *p;
    sfn_http_res_t  *res = data;

    n = size * nmemb;

    if (res->len + n > SFN_HTTP_MAX_REPLY) {
        res->overflow = 1;
        return 0;
    }

    if (res->len + n + 1 > res->size) {
        want = res->size ? res->size : 16384;

        while (want < res->len + n + 1) {
            want *= 2;
        }

        p = realloc(res->body, want);
        if (p == NULL) {
            return 0;
        }

        res->body = p;
        res->size = want;
    }

    memcpy(res->body + res->len, ptr, n);
    res->len += n;
    res->body[res->len] = '\0';

    return n;
}


static int
sfn_http_progress(void *data, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
    sfn_http_res_t  *res = data;

    /* non-zero aborts the transfer with CURLE_ABORTED_BY_CALLBACK */

    return sfn_task_cancelled(res->call);
}


/* the Location header of a reply, kept for a job's poll (bounded) */

static size_t
sfn_http_header(char *ptr, size_t size, size_t nitems, void *data)
{
    size_t           n, len;
    sfn_http_res_t  *res = data;

    n = size * nitems;

    if (n > 9 && strncasecmp(ptr, "Location:", 9) == 0) {
        ptr += 9;
        len = n - 9;

        while (len && (*ptr == ' ' || *ptr == '\t')) {
            ptr++;
            len--;
        }

        while (len && (ptr[len - 1] == '\r' || ptr[len - 1] == '\n'
                       || ptr[len - 1] == ' '))
        {
            len--;
        }

        if (len < sizeof(res->location)) {
            memcpy(res->location, ptr, len);
            res->location[len] = '\0';

        } else {
            /* too long to be ours: no poll URL rather than a cut one */
            res->location[0] = '\0';
        }
    }

    return n;
}


int
sfn_task_http_request(const sfn_task_call_t *call, const char *url,
    const char *body, struct curl_slist *headers, long timeout_ms,
    sfn_http_res_t *res)
{
    long       connect_ms;
    CURL      *curl;
    CURLcode   rc;

    memset(res, 0, sizeof(sfn_http_res_t));
    res->call = call;

    if (sfn_task_cancelled(call)) {
        return SFN_HTTP_CANCELLED;
    }

    curl = curl_easy_init();
    if (curl == NULL) {
        res->rc = CURLE_OUT_OF_MEMORY;
        snprintf(res->err, sizeof(res->err), "curl_easy_init() failed");
        return SFN_HTTP_TRANSPORT;
    }

    connect_ms = SFN_HTTP_CONNECT_TIMEOUT * 1000L;
    if (timeout_ms < connect_ms) {
        connect_ms = timeout_ms;
    }

    /* threads: no signals (for resolver timeouts), nothing but http(s) */

    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS,
                     (long) (CURLPROTO_HTTP|CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_URL, url);

    if (body) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) strlen(body));
    }

    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "ngx_sfn");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sfn_http_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, sfn_http_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, sfn_http_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, res);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, res->err);

    rc = curl_easy_perform(curl);
    res->rc = rc;

    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
    curl_easy_cleanup(curl);

    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        return SFN_HTTP_CANCELLED;
    }

    if (rc == CURLE_WRITE_ERROR && res->overflow) {
        snprintf(res->err, sizeof(res->err),
                 "the reply is larger than %d bytes", SFN_HTTP_MAX_REPLY);
        return SFN_HTTP_TRANSPORT;
    }

    if (rc != CURLE_OK) {
        if (res->err[0] == '\0') {
            snprintf(res->err, sizeof(res->err), "%s",
                     curl_easy_strerror(rc));
        }

        return SFN_HTTP_TRANSPORT;
    }

    return SFN_HTTP_REPLY;
}


struct curl_slist *
sfn_task_http_headers(const sfn_task_call_t *call, struct curl_slist *h)
{
    char  buf[4096];

    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");

    /* no "Expect: 100-continue" round trip for larger bodies */

    h = curl_slist_append(h, "Expect:");

    if (call->env && call->env->execution) {
        snprintf(buf, sizeof(buf), "X-Sfn-Execution: %s",
                 call->env->execution);
        h = curl_slist_append(h, buf);
    }

    /* .waitForTaskToken: SendTaskSuccess/Failure need it back */

    if (call->token) {
        snprintf(buf, sizeof(buf), "X-Sfn-Task-Token: %s", call->token);
        h = curl_slist_append(h, buf);
    }

    return h;
}


static long
sfn_http_timeout(sfn_task_call_t *call, long dflt, long *timeout)
{
    const cJSON  *t;

    t = cJSON_GetObjectItemCaseSensitive(call->input, "timeoutSeconds");
    *timeout = dflt;

    if (t == NULL) {
        return SFN_TASK_OK;
    }

    if (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > 3600) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"timeoutSeconds\" must be 1..3600");
    }

    *timeout = (long) t->valuedouble;

    return SFN_TASK_OK;
}


const char *
sfn_task_http_excerpt(sfn_http_res_t *res)
{
    if (res->body == NULL) {
        return "";
    }

    if (res->len > 512) {
        res->body[512] = '\0';
    }

    return res->body;
}


/* sleeps ms, in slices, unless cancelled; non-zero when cancelled */

static int
sfn_http_sleep(const sfn_task_call_t *call, long ms)
{
    long             step;
    struct timespec  ts;

    while (ms > 0) {
        if (sfn_task_cancelled(call)) {
            return 1;
        }

        step = ms < 50 ? ms : 50;
        ts.tv_sec = 0;
        ts.tv_nsec = step * 1000000L;
        nanosleep(&ts, NULL);
        ms -= step;
    }

    return sfn_task_cancelled(call);
}


/* sfn:http:invoke and arn:aws:states:::lambda:invoke */


static int
sfn_http_invoke_error(sfn_task_call_t *call, int lambda, const char *url,
    sfn_http_res_t *res)
{
    cJSON       *reply;
    const char  *type, *err;

    /* a Lambda-style function error names itself: {"errorType", ...} */

    reply = res->body ? cJSON_Parse(res->body) : NULL;
    type = sfn_task_string(reply, "errorType");

    if (type && type[0] && strlen(type) < sizeof(call->error)) {
        sfn_task_fail(call, type, "%s", res->body);
        cJSON_Delete(reply);
        return SFN_TASK_FAILED;
    }

    cJSON_Delete(reply);

    if (!lambda) {
        err = "States.TaskFailed";

    } else if (res->status == 404) {
        err = "Lambda.ResourceNotFoundException";

    } else if (res->status == 429) {
        err = "Lambda.TooManyRequestsException";

    } else {
        err = "Lambda.ServiceException";
    }

    return sfn_task_fail(call, err, "POST \"%s\" answered HTTP %ld: %s", url,
                         res->status, sfn_task_http_excerpt(res));
}


static int
sfn_task_http_invoke(sfn_task_call_t *call)
{
    int                        lambda;
    char                       arn[2048];
    long                       timeout;
    const char                *url, *name;
    const sfn_service_rule_t  *rule;

    lambda = sfn_http_aws_form(call, "arn:aws:states:::lambda:invoke");

    if (!cJSON_IsObject(call->input)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the input is not an object");
    }

    if (sfn_http_timeout(call, SFN_HTTP_TIMEOUT, &timeout) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    url = sfn_task_string(call->input, "url");
    name = sfn_task_string(call->input, "FunctionName");

    if (url == NULL && sfn_http_is_url(name)) {
        url = name;
    }

    if (url == NULL && lambda && name && call->env
        && call->env->services)
    {

        /* the function's ARN, as sfn_integration names it */

        rule = sfn_task_service_rule(call, "FunctionName", name, arn,
                                     sizeof(arn));
        if (rule == NULL) {
            return SFN_TASK_FAILED;
        }

        return sfn_task_http_lambda(call, rule->url, arn, rule->timeout,
                                    SFN_HTTP_LAMBDA|SFN_HTTP_WRAP
                                    |SFN_HTTP_RULE);
    }

    if (!sfn_http_is_url(url)) {
        return sfn_task_fail(call, lambda ? "Lambda.ResourceNotFoundException"
                                          : "States.TaskFailed",
                             "function \"%s\" is not an http(s) URL: the "
                             "input's \"url\" or \"FunctionName\" names the "
                             "endpoint to POST to", url ? url : "");
    }

    return sfn_task_http_lambda(call, url, NULL, timeout * 1000,
                                lambda ? SFN_HTTP_LAMBDA|SFN_HTTP_WRAP : 0);
}


int
sfn_task_http_lambda(sfn_task_call_t *call, const char *url, const char *arn,
    long timeout_ms, int flags)
{
    int                 lambda, rc, event;
    char               *body, id[40], hdr[2200];
    cJSON              *payload, *reply, *r, *meta;
    const char         *type;
    const cJSON        *in, *p;
    sfn_http_res_t      res;
    struct curl_slist  *h;

    in = call->input;
    lambda = flags & SFN_HTTP_LAMBDA;

    type = cJSON_IsObject(in) ? sfn_task_string(in, "InvocationType") : NULL;
    event = type && strcmp(type, "Event") == 0;

    if (type && !event && strcmp(type, "RequestResponse") != 0
        && strcmp(type, "DryRun") != 0)
    {
        return sfn_task_fail(call,
                             lambda ? "Lambda.InvalidParameterValueException"
                                    : "States.TaskFailed",
                             "unknown InvocationType \"%s\"", type);
    }

    if (type && strcmp(type, "DryRun") == 0) {
        r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "StatusCode", 204);
        call->output = r;
        return SFN_TASK_OK;
    }

    /*
     * the body: "Payload", or the input without our own parameters; a
     * function ARN as the Resource gets the whole input
     */

    p = (flags & SFN_HTTP_WRAP) || !lambda
        ? cJSON_GetObjectItemCaseSensitive(in, "Payload") : NULL;

    if (p) {
        payload = cJSON_Duplicate(p, 1);

    } else {
        payload = cJSON_Duplicate(in, 1);

        if (cJSON_IsObject(payload) && ((flags & SFN_HTTP_WRAP) || !lambda)) {
            cJSON_DeleteItemFromObjectCaseSensitive(payload, "url");
            cJSON_DeleteItemFromObjectCaseSensitive(payload, "FunctionName");
            cJSON_DeleteItemFromObjectCaseSensitive(payload,
                                                    "InvocationType");
            cJSON_DeleteItemFromObjectCaseSensitive(payload, "Qualifier");
            cJSON_DeleteItemFromObjectCaseSensitive(payload,
                                                    "timeoutSeconds");
        }
    }

    body = payload ? cJSON_PrintUnformatted(payload) : NULL;
    cJSON_Delete(payload);

    if (body == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    h = sfn_task_http_headers(call, NULL);

    if (event) {
        h = curl_slist_append(h, "X-Amz-Invocation-Type: Event");
    }

    /* one endpoint may serve several functions */

    if (arn && strlen(arn) < sizeof(hdr) - 32
        && sfn_task_text_valid(arn, strlen(arn)))
    {
        snprintf(hdr, sizeof(hdr), "X-Sfn-Resource: %s", arn);
        h = curl_slist_append(h, hdr);
    }

    rc = sfn_task_http_request(call, url, body, h, timeout_ms, &res);

    curl_slist_free_all(h);
    free(body);

    if (rc == SFN_HTTP_CANCELLED) {
        free(res.body);
        return sfn_task_fail(call, "States.Timeout",
                             "POST \"%s\" was cancelled", url);
    }

    if (rc == SFN_HTTP_TRANSPORT) {
        sfn_task_fail(call, lambda ? "Lambda.SdkClientException"
                                   : "States.TaskFailed",
                      "POST \"%s\" failed: %s%s", url, res.err,
                      res.rc != CURLE_OPERATION_TIMEDOUT ? ""
                      : (flags & SFN_HTTP_RULE) ? " (the sfn_integration's "
                                                  "timeout)"
                      : " (timeoutSeconds)");
        free(res.body);
        return SFN_TASK_FAILED;
    }

    if (res.status < 200 || res.status > 299) {
        rc = sfn_http_invoke_error(call, lambda, url, &res);
        free(res.body);
        return rc;
    }

    /* an empty reply is null, as a function returning nothing */

    if (event || res.len == 0) {
        reply = cJSON_CreateNull();

    } else {
        reply = cJSON_ParseWithLength(res.body, res.len);

        if (reply == NULL && (flags & SFN_HTTP_WRAP)) {
            reply = cJSON_CreateString(res.body);

        } else if (reply == NULL) {
            sfn_task_fail(call, lambda ? "Lambda.ServiceException"
                                       : "States.TaskFailed",
                          "POST \"%s\": the reply is not JSON: %s", url,
                          sfn_task_http_excerpt(&res));
            free(res.body);
            return SFN_TASK_FAILED;
        }
    }

    free(res.body);

    if (reply == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    if (!(flags & SFN_HTTP_WRAP)) {
        call->output = reply;
        return SFN_TASK_OK;
    }

    /* what the Lambda integration returns */

    r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "ExecutedVersion", "$LATEST");
    cJSON_AddItemToObject(r, "Payload", event ? cJSON_CreateString("")
                                              : reply);
    meta = cJSON_AddObjectToObject(r, "SdkHttpMetadata");
    cJSON_AddNumberToObject(meta, "HttpStatusCode", event ? 202 : 200);
    meta = cJSON_AddObjectToObject(r, "SdkResponseMetadata");
    cJSON_AddStringToObject(meta, "RequestId",
                            sfn_task_uuid(id, sizeof(id)));
    cJSON_AddNumberToObject(r, "StatusCode", event ? 202 : 200);

    if (event) {
        cJSON_Delete(reply);
    }

    call->output = r;

    return SFN_TASK_OK;
}


/* sfn:notify and arn:aws:states:::sns:publish */


static int
sfn_http_retryable(int rc, long status)
{
    return rc == SFN_HTTP_TRANSPORT || status >= 500 || status == 429
           || status == 408;
}


static int
sfn_http_notify_error(sfn_task_call_t *call, int sns, int rc,
    const char *url, int attempts, sfn_http_res_t *res)
{
    const char  *err;

    if (!sns) {
        err = "States.TaskFailed";

    } else if (rc == SFN_HTTP_TRANSPORT) {
        err = "SNS.SdkClientException";

    } else if (res->status >= 500) {
        err = "SNS.InternalErrorException";

    } else if (res->status == 404) {
        err = "SNS.NotFoundException";

    } else if (res->status == 401 || res->status == 403) {
        err = "SNS.AuthorizationErrorException";

    } else if (res->status == 429) {
        err = "SNS.ThrottledException";

    } else {
        err = "SNS.InvalidParameterException";
    }

    if (rc == SFN_HTTP_TRANSPORT) {
        return sfn_task_fail(call, err,
                             "webhook \"%s\" failed after %d attempt%s: %s",
                             url, attempts, attempts > 1 ? "s" : "",
                             res->err);
    }

    return sfn_task_fail(call, err,
                         "webhook \"%s\" failed after %d attempt%s: "
                         "HTTP %ld: %s", url, attempts,
                         attempts > 1 ? "s" : "", res->status,
                         sfn_task_http_excerpt(res));
}


static int
sfn_task_notify(sfn_task_call_t *call)
{
    int                 sns, rc, attempt;
    char                id[40], now[40], buf[256], arn[2048];
    char               *body, *msg_text;
    long                timeout, delay;
    cJSON              *msg, *r;
    const char         *url, *topic, *subject;
    const cJSON        *in, *m, *attrs;
    sfn_http_res_t      res;
    struct curl_slist  *h;

    const sfn_service_rule_t  *rule;

    in = call->input;
    sns = sfn_http_aws_form(call, "arn:aws:states:::sns:publish");

    if (!cJSON_IsObject(in)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the input is not an object");
    }

    topic = sfn_task_string(in, "TopicArn");
    url = sfn_task_string(in, "url");

    if (sfn_http_timeout(call, SFN_NOTIFY_TIMEOUT, &timeout) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    timeout *= 1000;

    if (url == NULL && sfn_http_is_url(topic)) {
        url = topic;
    }

    if (url == NULL && sns && topic && call->env && call->env->services) {

        /* the topic's ARN, as sfn_integration names it */

        rule = sfn_task_service_rule(call, "TopicArn", topic, arn,
                                     sizeof(arn));
        if (rule == NULL) {
            return SFN_TASK_FAILED;
        }

        url = rule->url;
        timeout = rule->timeout;
    }

    if (!sfn_http_is_url(url)) {
        return sfn_task_fail(call, sns ? "SNS.InvalidParameterException"
                                       : "States.TaskFailed",
                             "no webhook: give \"url\", or a \"TopicArn\" "
                             "that is an http(s) URL (TopicArn \"%s\")",
                             topic ? topic : "");
    }

    m = cJSON_GetObjectItemCaseSensitive(in, "Message");

    if (m == NULL || cJSON_IsNull(m)) {
        return sfn_task_fail(call, sns ? "SNS.InvalidParameterException"
                                       : "States.TaskFailed",
                             "Invalid parameter: Empty message");
    }

    subject = sfn_task_string(in, "Subject");
    attrs = cJSON_GetObjectItemCaseSensitive(in, "MessageAttributes");

    /* SNS's HTTP delivery; a JSON Message is delivered as its text */

    msg_text = cJSON_IsString(m) ? strdup(m->valuestring)
                                 : cJSON_PrintUnformatted(m);

    sfn_task_uuid(id, sizeof(id));
    sfn_task_now(now, sizeof(now));

    msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "Type", "Notification");
    cJSON_AddStringToObject(msg, "MessageId", id);

    if (topic) {
        cJSON_AddStringToObject(msg, "TopicArn", topic);
    }

    if (subject) {
        cJSON_AddStringToObject(msg, "Subject", subject);
    }

    cJSON_AddStringToObject(msg, "Message", msg_text ? msg_text : "");
    cJSON_AddStringToObject(msg, "Timestamp", now);

    if (attrs) {
        cJSON_AddItemToObject(msg, "MessageAttributes",
                              cJSON_Duplicate(attrs, 1));
    }

    /* .waitForTaskToken: the receiver calls back with this token */

    if (call->token) {
        cJSON_AddStringToObject(msg, "TaskToken", call->token);
    }

    body = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    free(msg_text);

    if (body == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    h = sfn_task_http_headers(call, NULL);
    h = curl_slist_append(h, "X-Amz-Sns-Message-Type: Notification");
    snprintf(buf, sizeof(buf), "X-Amz-Sns-Message-Id: %s", id);
    h = curl_slist_append(h, buf);

    /* the same MessageId on every attempt lets a receiver drop repeats */

    delay = SFN_NOTIFY_BACKOFF_MS;
    rc = SFN_HTTP_TRANSPORT;
    memset(&res, 0, sizeof(sfn_http_res_t));

    for (attempt = 1; attempt <= SFN_NOTIFY_ATTEMPTS; attempt++) {
        if (attempt > 1) {
            free(res.body);
            res.body = NULL;

            if (sfn_http_sleep(call, delay)) {
                rc = SFN_HTTP_CANCELLED;
                break;
            }

            delay *= 2;
        }

        rc = sfn_task_http_request(call, url, body, h, timeout, &res);

        if (rc == SFN_HTTP_CANCELLED
            || (rc == SFN_HTTP_REPLY && res.status >= 200
                && res.status <= 299)
            || !sfn_http_retryable(rc, res.status))
        {
            break;
        }
    }

    curl_slist_free_all(h);
    free(body);

    if (attempt > SFN_NOTIFY_ATTEMPTS) {
        attempt = SFN_NOTIFY_ATTEMPTS;
    }

    if (rc == SFN_HTTP_CANCELLED) {
        free(res.body);
        return sfn_task_fail(call, "States.Timeout",
                             "webhook \"%s\" was cancelled", url);
    }

    if (rc != SFN_HTTP_REPLY || res.status < 200 || res.status > 299) {
        sfn_http_notify_error(call, sns, rc, url, attempt, &res);
        free(res.body);
        return SFN_TASK_FAILED;
    }

    free(res.body);

    r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "MessageId", id);
    call->output = r;

    return SFN_TASK_OK;
}
