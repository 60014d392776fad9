
/*
 * Copyright (C) ngx_sfn authors
 *
 * A test host for the engine: a virtual clock, timers, scripted task
 * resources and a record of every effect, plus the table-driven runner the
 * test_*.c files share.  Header-only: each test binary links libsfn.a and
 * nothing else.
 *
 * Task resources understood by the host:
 *   test:echo        succeeds with its input, after run_task returns
 *   test:sync        succeeds with its input from inside run_task
 *   test:fail        fails with the input's Error/Cause
 *   test:syncfail    the same, from inside run_task
 *   test:refuse      run_task returns SFN_ERROR
 *   test:flaky       fails with Error/Cause while attempt < "failures",
 *                    then succeeds with {"attempt": n}
 *   test:sleep       answers after "seconds" virtual seconds (output or
 *                    Error), heartbeats every "heartbeat" seconds until
 *                    "heartbeatUntil"
 *   test:never       never answers
 *   test:garbage     answers with text that is not JSON
 */

#ifndef _SFN_TEST_H_INCLUDED_
#define _SFN_TEST_H_INCLUDED_


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sfn_engine.h"


#define SFN_T_MAX_TIMERS  4096


typedef struct {
    uint64_t              id;
    int64_t               due;
    int                   kind;      /* 0 engine, 1 done, 2 fail, 3 hb */
    char                 *output;
    char                 *error;
    char                 *cause;
    int64_t               every;
    int64_t               until;
    uint64_t              seq;
} sfn_t_timer_t;


typedef struct {
    int64_t               now;
    sfn_t_timer_t         timers[SFN_T_MAX_TIMERS];
    int                   ntimers;
    uint64_t              seq;
    char                  events[16384];
    size_t                nevents;
    int64_t               last_id;
    int                   ids_ok;
    int                   tasks_run;
    int                   tasks_cancelled;
    int                   timers_armed;
    unsigned              last_attempt;
    char                  last_token[256];
    char                  last_task_input[4096];
    int64_t               last_due_delta;
    sfn_exec_t           *e;
    int                   finished;
    unsigned              rnd;
    int                   full_events;
    int                   lazy;          /* conf.lazy_events */
    int                   lazy_built;    /* details built by the host */
    sfn_type_e            type;
    char                  last_type[64];     /* of the last event */
    char                  prev_type[64];     /* of the one before */
    int64_t               last_previous_id;
    char                  details[65536];
    size_t                ndetails;
    int                   keep;          /* lazy events kept, payloads held */
    int                   nkept;
    sfn_event_t           kept[256];
    sfn_payload_t        *held[256];
    char                  kept_role[256];
    char                  kept_details[65536];
    const sfn_mock_case_t  *mock;        /* conf.mock */
} sfn_t_host_t;


static int64_t
sfn_t_now(void *data)
{
    return ((sfn_t_host_t *) data)->now;
}


static void
sfn_t_random(void *data, void *buf, size_t len)
{
    size_t         i;
    sfn_t_host_t  *h;

    h = data;

    for (i = 0; i < len; i++) {
        h->rnd = h->rnd * 1103515245 + 12345;
        ((unsigned char *) buf)[i] = (unsigned char) (h->rnd >> 16);
    }
}


static void
sfn_t_timer_del(sfn_t_host_t *h, uint64_t id, int task)
{
    int  i;

    for (i = 0; i < h->ntimers; i++) {
        if (h->timers[i].id == id && ((h->timers[i].kind == 0) != task)) {
            free(h->timers[i].output);
            free(h->timers[i].error);
            free(h->timers[i].cause);
            h->timers[i] = h->timers[--h->ntimers];
            i--;
        }
    }
}


static sfn_t_timer_t *
sfn_t_timer_add(sfn_t_host_t *h, uint64_t id, int64_t due, int kind)
{
    sfn_t_timer_t  *t;

    if (h->ntimers == SFN_T_MAX_TIMERS) {
        return NULL;
    }

    t = &h->timers[h->ntimers++];
    memset(t, 0, sizeof(sfn_t_timer_t));
    t->id = id;
    t->due = due;
    t->kind = kind;
    t->seq = h->seq++;

    return t;
}


static int
sfn_t_arm_timer(void *data, sfn_exec_t *e, uint64_t id, int64_t due)
{
    sfn_t_host_t  *h;

    h = data;
    sfn_t_timer_del(h, id, 0);
    h->timers_armed++;
    h->last_due_delta = due - h->now;

    return sfn_t_timer_add(h, id, due, 0) ? SFN_OK : SFN_ERROR;
}


static void
sfn_t_cancel_timer(void *data, sfn_exec_t *e, uint64_t id)
{
    sfn_t_timer_del(data, id, 0);
}


static void
sfn_t_cancel_task(void *data, sfn_exec_t *e, uint64_t id)
{
    sfn_t_host_t  *h;

    h = data;
    h->tasks_cancelled++;
    sfn_t_timer_del(h, id, 1);
}


static const char *
sfn_t_str(const cJSON *o, const char *name)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}


static double
sfn_t_num(const cJSON *o, const char *name, double dflt)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}


static char *
sfn_t_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}


static int
sfn_t_run_task(void *data, sfn_exec_t *e, const sfn_task_req_t *t)
{
    char           *s, buf[64];
    sfn_t_host_t   *h;
    sfn_t_timer_t  *tm;
    const char     *r;

    h = data;
    r = t->resource;
    h->tasks_run++;
    h->last_attempt = t->attempt;

    s = cJSON_PrintUnformatted(t->input);
    snprintf(h->last_task_input, sizeof(h->last_task_input), "%s",
             s ? s : "");

    if (t->token) {
        snprintf(h->last_token, sizeof(h->last_token), "%s", t->token);
    }

    if (strncmp(r, "test:syncfail", 13) == 0) {
        free(s);
        sfn_exec_task_failed(e, t->id, sfn_t_str(t->input, "Error"),
                             sfn_t_str(t->input, "Cause"));
        return SFN_OK;
    }

    if (strncmp(r, "test:sync", 9) == 0) {
        sfn_exec_task_succeeded(e, t->id, s, strlen(s));
        free(s);
        return SFN_OK;
    }

    if (strncmp(r, "test:refuse", 11) == 0) {
        free(s);
        return SFN_ERROR;
    }

    if (strncmp(r, "test:never", 10) == 0) {
        free(s);
        return SFN_OK;
    }

    if (strncmp(r, "test:echo", 9) == 0) {
        tm = sfn_t_timer_add(h, t->id, h->now, 1);
        tm->output = s;
        return SFN_OK;
    }

    if (strncmp(r, "test:garbage", 12) == 0) {
        free(s);
        tm = sfn_t_timer_add(h, t->id, h->now, 1);
        tm->output = strdup("{not json");
        return SFN_OK;
    }

    if (strncmp(r, "test:fail", 9) == 0) {
        free(s);
        tm = sfn_t_timer_add(h, t->id, h->now, 2);
        tm->error = sfn_t_strdup(sfn_t_str(t->input, "Error"));
        tm->cause = sfn_t_strdup(sfn_t_str(t->input, "Cause"));
        return SFN_OK;
    }

    if (strncmp(r, "test:flaky", 10) == 0) {
        free(s);

        if (t->attempt < (unsigned) sfn_t_num(t->input, "failures", 0)) {
            tm = sfn_t_timer_add(h, t->id, h->now, 2);
            tm->error = sfn_t_strdup(sfn_t_str(t->input, "Error"));
            tm->cause = sfn_t_strdup(sfn_t_str(t->input, "Cause"));
            return SFN_OK;
        }

        snprintf(buf, sizeof(buf), "{\"attempt\":%u}", t->attempt);
        tm = sfn_t_timer_add(h, t->id, h->now, 1);
        tm->output = strdup(buf);
        return SFN_OK;
    }

    if (strncmp(r, "test:sleep", 10) == 0) {
        int64_t  due = h->now
                       + (int64_t) (sfn_t_num(t->input, "seconds", 0) * 1000);

        if (sfn_t_str(t->input, "Error")) {
            tm = sfn_t_timer_add(h, t->id, due, 2);
            tm->error = sfn_t_strdup(sfn_t_str(t->input, "Error"));
            tm->cause = sfn_t_strdup(sfn_t_str(t->input, "Cause"));

        } else {
            tm = sfn_t_timer_add(h, t->id, due, 1);
            tm->output = s;
            s = NULL;
        }

        free(s);

        if (sfn_t_num(t->input, "heartbeat", 0) > 0) {
            tm = sfn_t_timer_add(h, t->id, 0, 3);
            tm->every = (int64_t) (sfn_t_num(t->input, "heartbeat", 0)
                                   * 1000);
            tm->due = h->now + tm->every;
            tm->until = h->now
                        + (int64_t) (sfn_t_num(t->input, "heartbeatUntil",
                                               1e9) * 1000);
        }

        return SFN_OK;
    }

    free(s);

    return SFN_ERROR;
}


static void
sfn_t_event(void *data, sfn_exec_t *e, const sfn_event_t *ev)
{
    char          *s;
    cJSON         *d;
    size_t         n;
    sfn_t_host_t  *h;

    h = data;

    if (ev->id != h->last_id + 1 || ev->previous_id >= ev->id
        || ev->previous_id < 0)
    {
        h->ids_ok = 0;
    }

    h->last_id = ev->id;
    h->last_previous_id = ev->previous_id;
    memcpy(h->prev_type, h->last_type, sizeof(h->prev_type));
    snprintf(h->last_type, sizeof(h->last_type), "%s", ev->type);

    n = strlen(ev->type);
    if (h->nevents + n + 2 < sizeof(h->events)) {
        if (h->nevents) {
            h->events[h->nevents++] = ',';
        }
        memcpy(h->events + h->nevents, ev->type, n);
        h->nevents += n;
        h->events[h->nevents] = '\0';
    }

    /*
     * A host keeping its events: the lazy ones hold their payloads, which
     * must not change; the others' details are copied.
     */
    if (h->keep && h->lazy
        && h->nkept < (int) (sizeof(h->kept) / sizeof(h->kept[0])))
    {
        h->kept[h->nkept] = *ev;
        h->kept[h->nkept].details = ev->details
                                    ? cJSON_Duplicate(ev->details, 1) : NULL;
        h->held[h->nkept] = sfn_event_hold(ev);
        h->kept[h->nkept].payload = h->held[h->nkept]
                                    ? sfn_payload_json(h->held[h->nkept])
                                    : NULL;
        h->kept[h->nkept].shared = NULL;

        if (ev->role_arn) {
            snprintf(h->kept_role, sizeof(h->kept_role), "%s", ev->role_arn);
            h->kept[h->nkept].role_arn = h->kept_role;
        }

        h->nkept++;
    }

    /* a lazy host builds the details itself: they must read the same */
    d = NULL;
    if (h->full_events && ev->details == NULL && h->lazy) {
        d = sfn_event_details(ev);
        h->lazy_built += d != NULL;
    }

    if (h->full_events && (ev->details || d)) {
        s = cJSON_PrintUnformatted(ev->details ? ev->details : d);
        if (s) {
            n = strlen(s);
            if (h->ndetails + n + 32 < sizeof(h->details)) {
                h->ndetails += snprintf(h->details + h->ndetails,
                                        sizeof(h->details) - h->ndetails,
                                        "%lld/%lld %s\n",
                                        (long long) ev->id,
                                        (long long) ev->previous_id, s);
            }
            free(s);
        }
    }

    cJSON_Delete(d);
}


/* the kept events, formatted once the execution is gone, then released */
static void
sfn_t_kept_format(sfn_t_host_t *h)
{
    int      i;
    char    *s;
    cJSON   *d;
    size_t   n;

    n = 0;
    h->kept_details[0] = '\0';

    for (i = 0; i < h->nkept; i++) {
        d = sfn_event_details(&h->kept[i]);
        s = d ? cJSON_PrintUnformatted(d) : NULL;
        cJSON_Delete((cJSON *) h->kept[i].details);

        if (s && n + strlen(s) + 32 < sizeof(h->kept_details)) {
            n += snprintf(h->kept_details + n, sizeof(h->kept_details) - n,
                          "%lld/%lld %s\n", (long long) h->kept[i].id,
                          (long long) h->kept[i].previous_id, s);
        }

        free(s);
        cJSON_Delete(d);
        sfn_payload_release(h->held[i]);
    }

    h->nkept = 0;
}


static void
sfn_t_finished(void *data, sfn_exec_t *e)
{
    ((sfn_t_host_t *) data)->finished++;
}


static void
sfn_t_host_init(sfn_t_host_t *h, sfn_host_t *host)
{
    memset(h, 0, sizeof(sfn_t_host_t));
    h->now = 1700000000000LL;
    h->ids_ok = 1;
    h->rnd = 1;

    memset(host, 0, sizeof(sfn_host_t));
    host->data = h;
    host->now_ms = sfn_t_now;
    host->random = sfn_t_random;
    host->run_task = sfn_t_run_task;
    host->cancel_task = sfn_t_cancel_task;
    host->arm_timer = sfn_t_arm_timer;
    host->cancel_timer = sfn_t_cancel_timer;
    host->event = sfn_t_event;
    host->finished = sfn_t_finished;
}


static void
sfn_t_host_free(sfn_t_host_t *h)
{
    int  i;

    for (i = 0; i < h->ntimers; i++) {
        free(h->timers[i].output);
        free(h->timers[i].error);
        free(h->timers[i].cause);
    }

    h->ntimers = 0;
}


/* fires the earliest timer; 0 when none is left */
static int
sfn_t_step(sfn_t_host_t *h, sfn_exec_t *e)
{
    int            i, k;
    sfn_t_timer_t  t;

    if (h->ntimers == 0) {
        return 0;
    }

    k = 0;
    for (i = 1; i < h->ntimers; i++) {
        if (h->timers[i].due < h->timers[k].due
            || (h->timers[i].due == h->timers[k].due
                && h->timers[i].seq < h->timers[k].seq))
        {
            k = i;
        }
    }

    t = h->timers[k];
    h->timers[k] = h->timers[--h->ntimers];

    if (t.due > h->now) {
        h->now = t.due;
    }

    switch (t.kind) {

    case 0:
        sfn_exec_timer(e, t.id);
        break;

    case 1:
        sfn_exec_task_succeeded(e, t.id, t.output, strlen(t.output));
        break;

    case 2:
        sfn_exec_task_failed(e, t.id, t.error, t.cause);
        break;

    case 3:
        sfn_exec_task_heartbeat(e, t.id);
        if (t.due + t.every <= t.until) {
            t.due += t.every;
            t.seq = h->seq++;
            h->timers[h->ntimers++] = t;
            return 1;
        }
        break;
    }

    free(t.output);
    free(t.error);
    free(t.cause);

    return 1;
}


typedef struct {
    sfn_status_e          status;
    char                 *output;
    char                 *error;
    char                 *cause;
    char                  diag_code[64];
    char                  diag_state[256];
    char                  diag_message[1024];
    int64_t               elapsed_ms;
} sfn_t_result_t;


static void
sfn_t_result_free(sfn_t_result_t *r)
{
    free(r->output);
    free(r->error);
    free(r->cause);
    memset(r, 0, sizeof(sfn_t_result_t));
}


static int
sfn_t_known(void *data, const char *resource)
{
    return strncmp(resource, "test:", 5) == 0
           || strncmp(resource, "sfn:", 4) == 0
           || strncmp(resource, "arn:aws:states:::", 17) == 0
           || sfn_resource_activity(resource)
           || (strncmp(resource, "arn:aws:lambda:", 15) == 0
               && strstr(resource, ":function:") != NULL);
}


/*
 * Loads and runs def with input to the end (or until nothing is left to
 * wake it).  status is SFN_RUNNING + 100 for a definition that did not
 * load (diag_* tell why).
 */
static void
sfn_t_run(sfn_t_host_t *h, const char *def, const char *input,
    sfn_t_result_t *r)
{
    int64_t           t0;
    sfn_host_t        host;
    sfn_diag_t        d;
    sfn_exec_t       *e;
    sfn_machine_t    *m;
    const char       *error, *cause;
    sfn_exec_conf_t   conf;
    int               full, lazy, keep;
    sfn_type_e        type;
    const sfn_mock_case_t  *mock;

    full = h->full_events;
    mock = h->mock;
    type = h->type;
    lazy = h->lazy;
    keep = h->keep;
    sfn_t_host_init(h, &host);
    h->full_events = full;
    h->type = type;
    h->lazy = lazy;
    h->keep = keep;
    h->mock = mock;

    memset(r, 0, sizeof(sfn_t_result_t));

    m = sfn_machine_load(def, strlen(def), sfn_t_known, NULL, &d);
    if (m == NULL) {
        r->status = (sfn_status_e) (SFN_RUNNING + 100);
        snprintf(r->diag_code, sizeof(r->diag_code), "%s", d.code);
        snprintf(r->diag_state, sizeof(r->diag_state), "%s", d.state);
        snprintf(r->diag_message, sizeof(r->diag_message), "%s",
                 d.message);
        return;
    }

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.type = h->type;
    conf.lazy_events = lazy;
    conf.mock = mock;
    conf.name = "exec-1";
    conf.arn = "arn:aws:states:us-east-1:000000000000:execution:sm:exec-1";
    conf.role_arn = "arn:aws:iam::000000000000:role/test";
    conf.state_machine_name = "sm";
    conf.state_machine_arn =
        "arn:aws:states:us-east-1:000000000000:stateMachine:sm";

    e = sfn_exec_create(m, &host, &conf, input, strlen(input), &error,
                        &cause);
    assert_non_null(e);
    h->e = e;

    t0 = h->now;
    sfn_exec_start(e);

    while (sfn_exec_status(e) == SFN_RUNNING && sfn_t_step(h, e)) {
        /* void */
    }

    r->status = sfn_exec_status(e);
    r->output = sfn_t_strdup(sfn_exec_output(e));
    r->error = sfn_t_strdup(sfn_exec_error(e));
    r->cause = sfn_t_strdup(sfn_exec_cause(e));
    r->elapsed_ms = h->now - t0;

    if (r->status != SFN_RUNNING) {
        assert_int_equal(h->finished, 1);
    }

    sfn_exec_free(e);
    sfn_t_kept_format(h);
    sfn_machine_free(m);
    sfn_t_host_free(h);
}


/* JSON equality of two texts */
static int
sfn_t_json_eq(const char *a, const char *b)
{
    int     eq;
    cJSON  *x, *y;

    x = cJSON_Parse(a);
    y = cJSON_Parse(b);

    eq = x && y && cJSON_Compare(x, y, 1);

    cJSON_Delete(x);
    cJSON_Delete(y);

    return eq;
}


/*
 * A table row.  status: "SUCCEEDED", "FAILED", "TIMED_OUT", "INVALID"
 * (definition rejected; error then holds the diagnostic code).  output is
 * compared as JSON; cause, when set, must be a substring; events, when set,
 * must equal the comma-joined event types.
 */
typedef struct {
    const char           *name;
    const char           *definition;
    const char           *input;
    const char           *status;
    const char           *output;
    const char           *error;
    const char           *cause;
    const char           *events;
} sfn_t_case_t;


/* rows write JSON with ` for " to stay readable */
static char *
sfn_t_unquote(const char *s)
{
    char  *r, *p;

    r = strdup(s);
    assert_non_null(r);

    for (p = r; *p; p++) {
        if (*p == '`') {
            *p = '"';
        }
    }

    return r;
}


/* a row run with the tasks of a test case mocked (mock may be NULL) */
static int
sfn_t_check_mocked(const sfn_t_case_t *c, const sfn_mock_case_t *mock)
{
    int             ok;
    char           *def, *in;
    sfn_t_host_t   *h;
    sfn_t_result_t  r;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    h->mock = mock;

    def = sfn_t_unquote(c->definition);
    in = sfn_t_unquote(c->input ? c->input : "{}");

    sfn_t_run(h, def, in, &r);

    free(def);
    free(in);

    ok = 1;

    if (strcmp(c->status, "INVALID") == 0) {
        if (r.status != SFN_RUNNING + 100
            || (c->error && strcmp(c->error, r.diag_code) != 0)
            || (c->cause && strstr(r.diag_message, c->cause) == NULL))
        {
            ok = 0;
        }

    } else if (r.status == SFN_RUNNING + 100) {
        ok = 0;

    } else {
        if (strcmp(sfn_status_name(r.status), c->status) != 0) {
            ok = 0;
        }

        if (c->output) {
            def = sfn_t_unquote(c->output);
            if (r.output == NULL || !sfn_t_json_eq(def, r.output)) {
                ok = 0;
            }
            free(def);
        }

        if (c->error && (r.error == NULL || strcmp(c->error, r.error) != 0)) {
            ok = 0;
        }

        if (c->cause && (r.cause == NULL || strstr(r.cause, c->cause) == NULL))
        {
            ok = 0;
        }

        if (c->events && strcmp(c->events, h->events) != 0) {
            ok = 0;
        }

        if (!h->ids_ok) {
            ok = 0;
        }
    }

    if (!ok) {
        print_error("case \"%s\":\n  status %s, output %s\n  error %s\n"
                    "  cause %s\n  diag %s %s: %s\n  events %s\n",
                    c->name,
                    r.status == SFN_RUNNING + 100 ? "INVALID"
                                                  : sfn_status_name(r.status),
                    r.output ? r.output : "-", r.error ? r.error : "-",
                    r.cause ? r.cause : "-", r.diag_code, r.diag_state,
                    r.diag_message, h->events);
    }

    sfn_t_result_free(&r);
    free(h);

    return ok;
}


static int
sfn_t_check(const sfn_t_case_t *c)
{
    return sfn_t_check_mocked(c, NULL);
}


static inline void
sfn_t_table(const sfn_t_case_t *cases, size_t n)
{
    size_t  i, failed;

    failed = 0;

    for (i = 0; i < n; i++) {
        if (!sfn_t_check(&cases[i])) {
            failed++;
        }
    }

    if (failed) {
        fail_msg("%zu of %zu cases failed", failed, n);
    }
}


#define SFN_T_TABLE(name, cases)                                              \
    static void                                                               \
    name(void **state)                                                        \
    {                                                                         \
        (void) state;                                                         \
        sfn_t_table(cases, sizeof(cases) / sizeof(cases[0]));                 \
    }


#endif /* _SFN_TEST_H_INCLUDED_ */
