
/*
 * Copyright (C) ngx_sfn authors
 *
 * TestState: one state run on its own, as the AWS API reference has it.
 * The state becomes a machine of its own, each state it may go to a
 * Succeed state standing in for it: entering one names nextState, with
 * the tested state's output as its input.  Its Retry is left out and
 * judged here (a retrier that matches the error: RETRIABLE, nothing
 * retried); a Catch that takes the error is CAUGHT_ERROR, with the
 * catcher's output.  A Wait answers at once (it is run as a Pass of the
 * same paths); a Task runs its real resource on the thread pool.
 * Parallel, Map, activities, .sync and .waitForTaskToken are refused, as
 * AWS does, unless a mock (a result or an error output, the one
 * invocation of a test case of the engine's mocks) stands for the Task's
 * resource.  DEBUG and TRACE add the input processing the engine reports
 * through its inspect host call; TRACE has nothing more to show, no
 * resource here being an HTTP Task of AWS's.
 */


#include "ngx_http_sfn_aws.h"
#include <sfn_task.h>


#define NGX_HTTP_SFN_TEST_TIMERS    4
#define NGX_HTTP_SFN_TEST_LIMIT     300000  /* AWS's five minutes */
#define NGX_HTTP_SFN_TEST_STAGES    6


typedef struct ngx_http_sfn_test_s  ngx_http_sfn_test_t;


typedef struct {
    ngx_event_t                  ev;
    uint64_t                     id;
    ngx_http_sfn_test_t         *test;
} ngx_http_sfn_test_timer_t;


/* lives apart from the request: a task's thread may outlast it */
struct ngx_http_sfn_test_s {
    ngx_http_sfn_aws_ctx_t      *ctx;       /* NULL once the client went */
    ngx_http_sfn_main_conf_t    *smcf;
    sfn_machine_t               *m;
    sfn_exec_t                  *e;
    sfn_mock_t                  *mock;      /* TestState's "mock" */
    cJSON                       *state;     /* as given */
    char                        *input;
    char                        *next;      /* the stub entered */
    char                        *output;
    char                        *error;
    char                        *cause;
    char                        *stage[NGX_HTTP_SFN_TEST_STAGES];
    ngx_thread_task_t           *task;
    uint64_t                     task_id;
    sfn_task_call_t              call;
    sfn_task_env_t               env;
    volatile int                 cancel;
    int                          rc;
    ngx_uint_t                   stages;    /* those its type has, bits */
    ngx_event_t                  limit;
    ngx_http_sfn_test_timer_t    timers[NGX_HTTP_SFN_TEST_TIMERS];
    unsigned                     in_thread:1;
    unsigned                     failed:1;  /* by the tested state */
    unsigned                     done:1;
    unsigned                     debug:1;
};


static const char  *ngx_http_sfn_test_stages[NGX_HTTP_SFN_TEST_STAGES] = {
    "input", "afterInputPath", "afterParameters", "result",
    "afterResultSelector", "afterResultPath"
};


static void ngx_http_sfn_test_free(ngx_http_sfn_test_t *t);
static void ngx_http_sfn_test_reply(ngx_http_sfn_test_t *t);


static char *
ngx_http_sfn_test_strdup(const char *s)
{
    size_t   n;
    char    *p;

    if (s == NULL) {
        return NULL;
    }

    n = ngx_strlen(s) + 1;
    p = ngx_alloc(n, ngx_cycle->log);

    if (p) {
        ngx_memcpy(p, s, n);
    }

    return p;
}


static void
ngx_http_sfn_test_set(char **dst, const char *s)
{
    if (*dst == NULL) {
        *dst = ngx_http_sfn_test_strdup(s);
    }
}


/* the host */

static int64_t
ngx_http_sfn_test_now(void *data)
{
    return ngx_http_sfn_now_ms();
}


static void
ngx_http_sfn_test_random(void *data, void *buf, size_t len)
{
    ngx_http_sfn_random(buf, len);
}


static const char *
ngx_http_sfn_test_bucket(void *data, const char *name)
{
    ngx_http_sfn_test_t *t = data;

    ngx_str_t               s;
    ngx_http_sfn_bucket_t  *b;

    s.data = (u_char *) name;
    s.len = ngx_strlen(name);

    b = ngx_http_sfn_bucket_find(t->smcf, &s);

    return b ? (const char *) b->path.data : NULL;
}


static void
ngx_http_sfn_test_progress(void *data, double percent, double fps)
{
    /* a test shows no progress */
}


static void
ngx_http_sfn_test_thread(void *data, ngx_log_t *log)
{
    ngx_http_sfn_test_t *t = data;

    t->rc = sfn_task_run(&t->call);
}


static void
ngx_http_sfn_test_task_done(ngx_event_t *ev)
{
    char                 *text;
    ngx_http_sfn_test_t  *t;

    t = ev->data;
    t->in_thread = 0;

    if (t->ctx == NULL) {
        /* the client went: the request's cleanup left the rest to us */
        ngx_http_sfn_test_free(t);
        return;
    }

    if (t->done) {
        /* answered without it (a timeout): the cleanup frees */
        return;
    }

    if (t->rc == SFN_TASK_OK) {
        text = sfn_json_print(t->call.output);

        if (text == NULL) {
            (void) sfn_exec_task_failed(t->e, t->task_id, "States.Runtime",
                                        "out of memory");

        } else {
            (void) sfn_exec_task_succeeded(t->e, t->task_id, text,
                                           ngx_strlen(text));
            free(text);
        }

    } else {
        (void) sfn_exec_task_failed(t->e, t->task_id, t->call.error,
                                    t->call.cause);
    }

    ngx_http_sfn_test_reply(t);
}


static int
ngx_http_sfn_test_run_task(void *data, sfn_exec_t *e, const sfn_task_req_t *r)
{
    ngx_http_sfn_test_t *t = data;

    ngx_thread_task_t  *task;

    if (!sfn_service_known(&t->smcf->services, r->resource) || t->task) {
        return SFN_ERROR;
    }

    task = ngx_calloc(sizeof(ngx_thread_task_t), ngx_cycle->log);
    if (task == NULL) {
        return SFN_ERROR;
    }

    t->task = task;
    t->task_id = r->id;

    t->env.data = t;
    t->env.bucket_path = ngx_http_sfn_test_bucket;
    t->env.cancel = &t->cancel;
    t->env.progress = ngx_http_sfn_test_progress;
    t->env.db_conninfo = t->smcf->database.len
                         ? (const char *) t->smcf->database.data : NULL;
    t->env.execution = "TestState";
    t->env.services = &t->smcf->services;

    t->call.resource = ngx_http_sfn_test_strdup(r->resource);
    t->call.input = cJSON_Duplicate(r->input, 1);
    t->call.env = &t->env;

    if (t->call.resource == NULL || t->call.input == NULL) {
        return SFN_ERROR;
    }

    task->ctx = t;
    task->handler = ngx_http_sfn_test_thread;
    task->event.handler = ngx_http_sfn_test_task_done;
    task->event.data = t;

    if (ngx_thread_task_post(t->smcf->thread_pool, task) != NGX_OK) {
        return SFN_ERROR;
    }

    t->in_thread = 1;

    return SFN_OK;
}


static void
ngx_http_sfn_test_cancel_task(void *data, sfn_exec_t *e, uint64_t id)
{
    ngx_http_sfn_test_t *t = data;

    t->cancel = 1;
}


static void
ngx_http_sfn_test_timer_handler(ngx_event_t *ev)
{
    ngx_http_sfn_test_timer_t *tm = ev->data;

    ngx_http_sfn_test_t  *t;

    t = tm->test;
    tm->id = 0;

    (void) sfn_exec_timer(t->e, (uint64_t) (uintptr_t) ev->index);

    ngx_http_sfn_test_reply(t);
}


static int
ngx_http_sfn_test_arm_timer(void *data, sfn_exec_t *e, uint64_t id,
    int64_t due_ms)
{
    ngx_http_sfn_test_t *t = data;

    int64_t                     delay;
    ngx_uint_t                  i;
    ngx_http_sfn_test_timer_t  *tm, *free;

    free = NULL;

    for (i = 0; i < NGX_HTTP_SFN_TEST_TIMERS; i++) {
        tm = &t->timers[i];

        if (tm->id == id || (free == NULL && tm->id == 0)) {
            free = tm;
        }
    }

    if (free == NULL) {
        return SFN_ERROR;
    }

    free->id = id;
    free->test = t;
    free->ev.handler = ngx_http_sfn_test_timer_handler;
    free->ev.data = free;
    free->ev.log = ngx_cycle->log;
    free->ev.index = (ngx_uint_t) id;

    delay = due_ms - ngx_http_sfn_now_ms();

    ngx_add_timer(&free->ev, (ngx_msec_t) ngx_max(delay, 1));

    return SFN_OK;
}


static void
ngx_http_sfn_test_cancel_timer(void *data, sfn_exec_t *e, uint64_t id)
{
    ngx_http_sfn_test_t *t = data;

    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_SFN_TEST_TIMERS; i++) {
        if (t->timers[i].id == id) {
            t->timers[i].id = 0;

            if (t->timers[i].ev.timer_set) {
                ngx_del_timer(&t->timers[i].ev);
            }
        }
    }
}


static const char *
ngx_http_sfn_test_detail(const cJSON *details, const char *name)
{
    cJSON  *v;

    if (details == NULL || details->child == NULL) {
        return NULL;
    }

    v = cJSON_GetObjectItemCaseSensitive(details->child, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}


static void
ngx_http_sfn_test_event(void *data, sfn_exec_t *e, const sfn_event_t *ev)
{
    ngx_http_sfn_test_t *t = data;

    size_t       n;
    const char  *name;

    n = ngx_strlen(ev->type);

    if (n > 12 && ngx_strcmp(ev->type + n - 12, "StateEntered") == 0) {
        name = ngx_http_sfn_test_detail(ev->details, "name");

        if (t->input == NULL) {
            t->input = ngx_http_sfn_test_strdup(
                           ngx_http_sfn_test_detail(ev->details, "input"));
            return;
        }

        /* a stand-in: the tested state's way out */

        ngx_http_sfn_test_set(&t->next, name);
        ngx_http_sfn_test_set(&t->output,
                              ngx_http_sfn_test_detail(ev->details, "input"));
        return;
    }

    if (ngx_strcmp(ev->type, "ExecutionSucceeded") == 0) {
        ngx_http_sfn_test_set(&t->output,
                              ngx_http_sfn_test_detail(ev->details,
                                                       "output"));
        return;
    }

    if ((n > 6 && ngx_strcmp(ev->type + n - 6, "Failed") == 0)
        || (n > 8 && ngx_strcmp(ev->type + n - 8, "TimedOut") == 0))
    {
        if (t->next == NULL && t->error == NULL) {
            t->failed = 1;
            t->error = ngx_http_sfn_test_strdup(
                           ngx_http_sfn_test_detail(ev->details, "error"));
            t->cause = ngx_http_sfn_test_strdup(
                           ngx_http_sfn_test_detail(ev->details, "cause"));
        }
    }
}


static void
ngx_http_sfn_test_inspect(void *data, sfn_exec_t *e, const char *stage,
    const cJSON *v)
{
    ngx_http_sfn_test_t *t = data;

    char        *text;
    ngx_uint_t   i;

    /* the tested state's, not a stand-in's */

    if (t->next) {
        return;
    }

    for (i = 1; i < NGX_HTTP_SFN_TEST_STAGES; i++) {
        if (ngx_strcmp(ngx_http_sfn_test_stages[i], stage) == 0
            && (t->stages & (1 << i)) && t->stage[i] == NULL)
        {
            text = sfn_json_print(v);
            t->stage[i] = ngx_http_sfn_test_strdup(text);
            free(text);
            return;
        }
    }
}


static const sfn_host_t  ngx_http_sfn_test_host = {
    NULL,
    ngx_http_sfn_test_now,
    ngx_http_sfn_test_random,
    ngx_http_sfn_test_run_task,
    ngx_http_sfn_test_cancel_task,
    ngx_http_sfn_test_arm_timer,
    ngx_http_sfn_test_cancel_timer,
    ngx_http_sfn_test_event,
    NULL,
    NULL,
    NULL,
    ngx_http_sfn_test_inspect,
    NULL                            /* a distributed Map runs inline */
};


/* a retrier that would take the error (ASL's matching, MaxAttempts > 0) */

static ngx_uint_t
ngx_http_sfn_test_retriable(ngx_http_sfn_test_t *t)
{
    cJSON       *retry, *r, *errs, *err, *max;
    const char  *e;

    e = t->error ? t->error : "";
    retry = cJSON_GetObjectItemCaseSensitive(t->state, "Retry");

    cJSON_ArrayForEach(r, retry) {
        max = cJSON_GetObjectItemCaseSensitive(r, "MaxAttempts");

        if (cJSON_IsNumber(max) && max->valuedouble < 1) {
            continue;
        }

        errs = cJSON_GetObjectItemCaseSensitive(r, "ErrorEquals");

        cJSON_ArrayForEach(err, errs) {
            if (!cJSON_IsString(err)) {
                continue;
            }

            if (ngx_strcmp(err->valuestring, e) == 0
                || (ngx_strcmp(err->valuestring, "States.ALL") == 0
                    && ngx_strcmp(e, "States.Runtime") != 0)
                || (ngx_strcmp(err->valuestring, "States.TaskFailed") == 0
                    && ngx_strncmp(e, "States.", 7) != 0))
            {
                return 1;
            }
        }
    }

    return 0;
}


/* the reply once the state is done, or NGX_AGAIN */

static ngx_int_t
ngx_http_sfn_test_answer(ngx_http_sfn_test_t *t)
{
    ngx_uint_t           i;
    cJSON               *json, *data;
    const char          *status;
    ngx_http_request_t  *r;

    if (t->done || t->ctx == NULL
        || (sfn_exec_status(t->e) == SFN_RUNNING && t->next == NULL))
    {
        return NGX_AGAIN;
    }

    t->done = 1;

    if (t->limit.timer_set) {
        ngx_del_timer(&t->limit);
    }

    r = t->ctx->r;

    if (t->error == NULL && sfn_exec_status(t->e) != SFN_SUCCEEDED
        && t->next == NULL)
    {
        t->error = ngx_http_sfn_test_strdup(sfn_exec_error(t->e));
        t->cause = ngx_http_sfn_test_strdup(sfn_exec_cause(t->e));
    }

    if (t->error && t->failed && ngx_http_sfn_test_retriable(t)) {
        status = "RETRIABLE";

    } else if (t->error && t->next) {
        status = "CAUGHT_ERROR";

    } else if (t->error) {
        status = "FAILED";

    } else {
        status = "SUCCEEDED";
    }

    json = cJSON_CreateObject();
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (t->output && (status[0] == 'S' || status[0] == 'C')) {
        cJSON_AddStringToObject(json, "output", t->output);
    }

    if (t->error && status[0] != 'S') {
        cJSON_AddStringToObject(json, "error", t->error);

        if (t->cause) {
            cJSON_AddStringToObject(json, "cause", t->cause);
        }
    }

    if (t->debug) {
        data = cJSON_AddObjectToObject(json, "inspectionData");
        t->stage[0] = t->stage[0] ? t->stage[0]
                                  : ngx_http_sfn_test_strdup(t->input);

        for (i = 0; data && i < NGX_HTTP_SFN_TEST_STAGES; i++) {
            if (t->stage[i]) {
                cJSON_AddStringToObject(data, ngx_http_sfn_test_stages[i],
                                        t->stage[i]);
            }
        }
    }

    if (t->next && status[0] != 'R') {
        cJSON_AddStringToObject(json, "nextState", t->next);
    }

    cJSON_AddStringToObject(json, "status", status);

    return ngx_http_sfn_aws_send(r, NGX_HTTP_OK, json);
}


static void
ngx_http_sfn_test_reply(ngx_http_sfn_test_t *t)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    if (t->ctx == NULL) {
        return;
    }

    r = t->ctx->r;
    c = r->connection;

    rc = ngx_http_sfn_test_answer(t);

    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_sfn_test_limit(ngx_event_t *ev)
{
    ngx_http_sfn_test_t *t = ev->data;

    (void) sfn_exec_stop(t->e, "States.Timeout",
                         "TestState ran for more than five minutes");

    t->error = ngx_http_sfn_test_strdup("States.Timeout");
    t->cause = ngx_http_sfn_test_strdup("TestState ran for more than five "
                                        "minutes");
    t->failed = 1;

    ngx_http_sfn_test_reply(t);
}


static void
ngx_http_sfn_test_free(ngx_http_sfn_test_t *t)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_SFN_TEST_TIMERS; i++) {
        if (t->timers[i].ev.timer_set) {
            ngx_del_timer(&t->timers[i].ev);
        }
    }

    if (t->limit.timer_set) {
        ngx_del_timer(&t->limit);
    }

    if (t->e) {
        sfn_exec_free(t->e);
        t->e = NULL;
    }

    if (t->in_thread) {
        /* its completion frees the rest */
        t->ctx = NULL;
        t->cancel = 1;
        return;
    }

    for (i = 0; i < NGX_HTTP_SFN_TEST_STAGES; i++) {
        ngx_free(t->stage[i]);
    }

    ngx_free(t->input);
    ngx_free(t->next);
    ngx_free(t->output);
    ngx_free(t->error);
    ngx_free(t->cause);
    ngx_free(t->task);
    ngx_free((void *) t->call.resource);
    cJSON_Delete((cJSON *) t->call.input);
    cJSON_Delete(t->call.output);
    cJSON_Delete(t->state);

    if (t->m) {
        sfn_machine_free(t->m);
    }

    sfn_mock_free(t->mock);

    ngx_free(t);
}


static void
ngx_http_sfn_test_cleanup(void *data)
{
    ngx_http_sfn_test_t *t = data;

    t->ctx = NULL;
    ngx_http_sfn_test_free(t);
}


/* the names the state may go to, each a Succeed state in the machine */

static ngx_int_t
ngx_http_sfn_test_stub(cJSON *states, cJSON *name, const char *self)
{
    cJSON  *stub;

    if (!cJSON_IsString(name) || ngx_strcmp(name->valuestring, self) == 0
        || cJSON_GetObjectItemCaseSensitive(states, name->valuestring))
    {
        return NGX_OK;
    }

    stub = cJSON_AddObjectToObject(states, name->valuestring);

    if (stub == NULL
        || cJSON_AddStringToObject(stub, "Type", "Succeed") == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static cJSON *
ngx_http_sfn_test_machine(cJSON *state, const char *self, ngx_uint_t run)
{
    cJSON       *root, *states, *st, *c, *v;
    const char  *type;
    const char  *wait[] = { "Seconds", "Timestamp", "SecondsPath",
                            "TimestampPath", NULL };
    ngx_uint_t   i;

    root = cJSON_CreateObject();
    states = cJSON_AddObjectToObject(root, "States");
    st = cJSON_Duplicate(state, 1);

    if (root == NULL || states == NULL || st == NULL
        || cJSON_AddStringToObject(root, "StartAt", self) == NULL)
    {
        cJSON_Delete(root);
        cJSON_Delete(st);
        return NULL;
    }

    cJSON_AddItemToObject(states, self, st);

    if (ngx_http_sfn_test_stub(states, cJSON_GetObjectItemCaseSensitive(st,
                               "Next"), self) != NGX_OK
        || ngx_http_sfn_test_stub(states, cJSON_GetObjectItemCaseSensitive(
                                  st, "Default"), self) != NGX_OK)
    {
        cJSON_Delete(root);
        return NULL;
    }

    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st, "Choices")) {
        if (ngx_http_sfn_test_stub(states,
                cJSON_GetObjectItemCaseSensitive(c, "Next"), self)
            != NGX_OK)
        {
            cJSON_Delete(root);
            return NULL;
        }
    }

    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st, "Catch")) {
        if (ngx_http_sfn_test_stub(states,
                cJSON_GetObjectItemCaseSensitive(c, "Next"), self)
            != NGX_OK)
        {
            cJSON_Delete(root);
            return NULL;
        }
    }

    if (!run) {
        return root;
    }

    /* what runs: no Retry (judged apart), a Wait that does not wait */

    cJSON_DeleteItemFromObjectCaseSensitive(st, "Retry");

    v = cJSON_GetObjectItemCaseSensitive(st, "Type");
    type = cJSON_IsString(v) ? v->valuestring : "";

    if (ngx_strcmp(type, "Wait") == 0) {
        for (i = 0; wait[i]; i++) {
            cJSON_DeleteItemFromObjectCaseSensitive(st, wait[i]);
        }

        cJSON_ReplaceItemInObjectCaseSensitive(st, "Type",
                                               cJSON_CreateString("Pass"));
    }

    return root;
}


/*
 * "mock": {"result": JSON text} or {"errorOutput": {"error", "cause"}},
 * and "fieldValidationMode", made the one response of a test case of the
 * engine's mocks for the state that runs, "TestState".  The result is
 * not checked against the service's response shape: there is no model
 * of it here.  NGX_DECLINED when no mock is given.
 */

static ngx_int_t
ngx_http_sfn_test_mock(ngx_http_sfn_aws_ctx_t *ctx, ngx_http_sfn_test_t *t)
{
    char         *text, err[1024];
    cJSON        *mock, *res, *eo, *cfg, *r, *v, *er, *ca;
    const char   *mode;

    mock = cJSON_GetObjectItemCaseSensitive(ctx->body, "mock");

    if (mock == NULL || cJSON_IsNull(mock)) {
        return NGX_DECLINED;
    }

    res = cJSON_GetObjectItemCaseSensitive(mock, "result");
    eo = cJSON_GetObjectItemCaseSensitive(mock, "errorOutput");
    v = cJSON_GetObjectItemCaseSensitive(mock, "fieldValidationMode");
    er = cJSON_GetObjectItemCaseSensitive(eo, "error");
    ca = cJSON_GetObjectItemCaseSensitive(eo, "cause");

    if (!cJSON_IsObject(mock)
        || (res && !cJSON_IsString(res))
        || (eo && !cJSON_IsObject(eo))
        || (v && !cJSON_IsString(v))
        || (er && !cJSON_IsString(er))
        || (ca && !cJSON_IsString(ca)))
    {
        return ngx_http_sfn_aws_invalid(ctx, "SerializationException",
                                        "Unexpected value type for 'mock'");
    }

    mode = v ? v->valuestring : "STRICT";

    if (ngx_strcmp(mode, "STRICT") != 0 && ngx_strcmp(mode, "PRESENT") != 0
        && ngx_strcmp(mode, "NONE") != 0)
    {
        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                   "1 validation error detected: Value at "
                   "'mock.fieldValidationMode' failed to satisfy "
                   "constraint: Member must satisfy enum value set: "
                   "[STRICT, PRESENT, NONE]");
    }

    if ((res == NULL) == (eo == NULL)) {
        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                                        "a mock has either 'result' or "
                                        "'errorOutput'");
    }

    r = cJSON_CreateObject();

    if (res) {
        v = sfn_json_parse(res->valuestring, ngx_strlen(res->valuestring));

        if (v == NULL) {
            cJSON_Delete(r);
            return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                                            "the mock's 'result' is not "
                                            "JSON");
        }

        cJSON_AddItemToObject(r, "Return", v);

    } else {
        v = cJSON_AddObjectToObject(r, "Throw");
        cJSON_AddStringToObject(v, "Error",
                                er ? er->valuestring : "States.TaskFailed");
        cJSON_AddStringToObject(v, "Cause", ca ? ca->valuestring : "");
    }

    /* {"StateMachines": {"TestState": {"TestCases": {"mock": ...}}}} */

    cfg = cJSON_CreateObject();
    v = cJSON_AddObjectToObject(cJSON_AddObjectToObject(
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(cfg,
                "StateMachines"), "TestState"), "TestCases"), "mock");
    cJSON_AddStringToObject(v, "TestState", "mock");
    v = cJSON_AddObjectToObject(cJSON_AddObjectToObject(cfg,
                                "MockedResponses"), "mock");
    cJSON_AddItemToObject(v, "0", r);

    text = sfn_json_print(cfg);
    cJSON_Delete(cfg);

    if (text == NULL) {
        return ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
    }

    t->mock = sfn_mock_load(text, ngx_strlen(text), err, sizeof(err));
    free(text);

    if (t->mock == NULL) {
        return ngx_http_sfn_aws_invalid(ctx, "ValidationException",
                                        "the mock: %s", err);
    }

    return NGX_OK;
}


static sfn_machine_t *
ngx_http_sfn_test_load(ngx_http_sfn_aws_ctx_t *ctx, cJSON *state,
    const char *self, ngx_uint_t run)
{
    char           *text;
    cJSON          *root;
    ngx_str_t       def;
    sfn_machine_t  *m;

    root = ngx_http_sfn_test_machine(state, self, run);
    text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);

    if (text == NULL) {
        (void) ngx_http_sfn_aws_invalid(ctx, "InternalFailure",
                                        "out of memory");
        return NULL;
    }

    def.data = (u_char *) text;
    def.len = ngx_strlen(text);

    m = ngx_http_sfn_aws_compile(ctx, &def, SFN_STANDARD);

    cJSON_free(text);

    return m;
}


ngx_int_t
ngx_http_sfn_aws_test_state(ngx_http_sfn_aws_ctx_t *ctx)
{
    size_t                len;
    ngx_int_t             rc;
    cJSON                *state, *v, *states, *mocked;
    ngx_str_t             def, role, input, level, name;
    const char           *type, *res, *err, *cause;
    ngx_pool_cleanup_t   *cln;
    ngx_http_sfn_test_t  *t;
    sfn_exec_conf_t       conf;
    sfn_host_t            host;
    sfn_machine_t        *m;

    if (ngx_http_sfn_aws_field(ctx, "definition", 1, &def) != NGX_OK
        || ngx_http_sfn_aws_length(ctx, "definition", &def, 1024 * 1024)
           != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "roleArn", 0, &role) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "roleArn", &role, 256) != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "input", 0, &input) == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "input", &input, SFN_MAX_PAYLOAD)
           != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "inspectionLevel", 0, &level)
           == NGX_ERROR
        || ngx_http_sfn_aws_field(ctx, "stateName", 0, &name) == NGX_ERROR)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    v = cJSON_GetObjectItemCaseSensitive(ctx->body, "revealSecrets");

    if (v && !cJSON_IsNull(v) && !cJSON_IsBool(v)) {
        return ngx_http_sfn_aws_reply_error(ctx, "SerializationException",
                                            "Unexpected value type for "
                                            "'revealSecrets'");
    }

    if (level.data && ngx_strcmp(level.data, "INFO") != 0
        && ngx_strcmp(level.data, "DEBUG") != 0
        && ngx_strcmp(level.data, "TRACE") != 0)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                   "1 validation error detected: Value '%s' at "
                   "'inspectionLevel' failed to satisfy constraint: Member "
                   "must satisfy enum value set: [INFO, DEBUG, TRACE]",
                   level.data);
    }

    state = sfn_json_parse((char *) def.data, def.len);

    if (!cJSON_IsObject(state)) {
        cJSON_Delete(state);
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidDefinition",
                                            "Invalid State Machine "
                                            "Definition: "
                                            "'INVALID_JSON_DESCRIPTION: the "
                                            "definition is not a JSON "
                                            "object'");
    }

    /* a whole machine: the state named, or its first */

    states = cJSON_GetObjectItemCaseSensitive(state, "States");

    if (cJSON_IsObject(states)) {
        v = name.data ? cJSON_GetObjectItemCaseSensitive(states,
                                                         (char *) name.data)
                      : cJSON_GetObjectItemCaseSensitive(states,
                            cJSON_GetStringValue(
                                cJSON_GetObjectItemCaseSensitive(state,
                                                                 "StartAt")));
        v = v ? cJSON_Duplicate(v, 1) : NULL;
        cJSON_Delete(state);
        state = v;

        if (state == NULL) {
            return ngx_http_sfn_aws_reply_error(ctx, "InvalidDefinition",
                       "Invalid State Machine Definition: "
                       "'SCHEMA_VALIDATION_FAILED: no state named '%s''",
                       name.data ? (char *) name.data : "");
        }
    }

    type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(state,
                                                                 "Type"));
    res = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(state,
                                                                "Resource"));
    len = res ? ngx_strlen(res) : 0;

    if (type && (ngx_strcmp(type, "Map") == 0
                 || ngx_strcmp(type, "Parallel") == 0))
    {
        rc = ngx_http_sfn_aws_reply_error(ctx, "InvalidDefinition",
                 "Invalid State Machine Definition: "
                 "'SCHEMA_VALIDATION_FAILED: TestState does not support "
                 "%s states'", type);
        cJSON_Delete(state);
        return rc;
    }

    mocked = cJSON_GetObjectItemCaseSensitive(ctx->body, "mock");
    mocked = cJSON_IsNull(mocked) ? NULL : mocked;

    if (mocked && (type == NULL || ngx_strcmp(type, "Task") != 0)) {
        cJSON_Delete(state);
        return ngx_http_sfn_aws_reply_error(ctx, "ValidationException",
                                            "a mock stands for a Task "
                                            "state's result only here");
    }

    if (type && ngx_strcmp(type, "Task") == 0 && res && mocked == NULL
        && (sfn_resource_activity(res)
            || (len > 5 && ngx_strcmp(res + len - 5, ".sync") == 0)
            || (len > 17
                && ngx_strcmp(res + len - 17, ".waitForTaskToken") == 0)))
    {
        cJSON_Delete(state);
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidDefinition",
                   "Invalid State Machine Definition: "
                   "'SCHEMA_VALIDATION_FAILED: TestState does not support "
                   "Activity tasks, .sync or .waitForTaskToken service "
                   "integration patterns'");
    }

    t = ngx_calloc(sizeof(ngx_http_sfn_test_t), ctx->r->connection->log);
    cln = ngx_pool_cleanup_add(ctx->r->pool, 0);

    if (t == NULL || cln == NULL) {
        ngx_free(t);
        cJSON_Delete(state);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->ctx = ctx;
    t->smcf = ctx->smcf;
    t->state = state;
    t->debug = level.data && ngx_strcmp(level.data, "INFO") != 0;

    /*
     * what the type processes: a Task all of it, a Pass no ResultSelector,
     * the others their InputPath alone
     */

    t->stages = (type && ngx_strcmp(type, "Task") == 0) ? 0x3f
                : (type && ngx_strcmp(type, "Pass") == 0) ? 0x2f : 0x03;

    cln->handler = ngx_http_sfn_test_cleanup;
    cln->data = t;

    if (mocked && ngx_http_sfn_test_mock(ctx, t) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    /* the state as given is checked; the one that runs differs a little */

    m = ngx_http_sfn_test_load(ctx, state, "TestState", 0);
    if (m == NULL) {
        return ngx_http_sfn_aws_error(ctx);
    }

    sfn_machine_free(m);

    t->m = ngx_http_sfn_test_load(ctx, state, "TestState", 1);
    if (t->m == NULL) {
        return ngx_http_sfn_aws_error(ctx);
    }

    host = ngx_http_sfn_test_host;
    host.data = t;

    ngx_memzero(&conf, sizeof(sfn_exec_conf_t));
    conf.name = "TestState";
    conf.arn = "TestState";
    conf.role_arn = role.data ? (char *) role.data : "";
    conf.state_machine_name = "TestState";
    conf.state_machine_arn = "TestState";
    conf.type = SFN_EXPRESS;
    conf.mock = t->mock ? sfn_mock_case(t->mock, "TestState", "mock", NULL)
                        : NULL;

    if (input.data == NULL) {
        ngx_str_set(&input, "{}");
    }

    t->e = sfn_exec_create(t->m, &host, &conf, (char *) input.data,
                           input.len, &err, &cause);

    if (t->e == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidExecutionInput",
                                            "Invalid State Machine Execution "
                                            "Input: '%s'", cause);
    }

    t->limit.handler = ngx_http_sfn_test_limit;
    t->limit.data = t;
    t->limit.log = ctx->r->connection->log;

    (void) sfn_exec_start(t->e);

    rc = ngx_http_sfn_test_answer(t);

    if (rc != NGX_AGAIN) {
        return rc;
    }

    /* a task runs */

    ngx_add_timer(&t->limit, NGX_HTTP_SFN_TEST_LIMIT);

    return NGX_DONE;
}
