
/*
 * Copyright (C) ngx_sfn authors
 *
 * What entering each state type does: Pass, Choice, Succeed, Fail, Wait
 * and Task.  Parallel and Map are in sfn_map.c.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"
#include "sfn_exec.h"


/* AWS keeps a wait's delay in 32-bit seconds: a longer one fails */
#define SFN_WAIT_MAX  2147483647


static int sfn_exec_task_schedule(sfn_run_t *run);


/* moves to st->next, or ends the run */
int
sfn_transition(sfn_run_t *run, const sfn_state_t *next)
{
    if (next) {
        run->state = next;
        return SFN_R_NEXT;
    }

    return SFN_R_END;
}


int
sfn_state_pass(sfn_run_t *run)
{
    int                 owned;
    cJSON              *eff, *res;
    sfn_err_t           err;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;

    if (st->jsonata) {
        if (sfn_query_output(run, NULL, NULL, st->qassign, st->output) != 0)
        {
            return SFN_R_FAIL;
        }

        sfn_state_exit(run);

        return sfn_transition(run, st->next);
    }

    sfn_env_init(&env, run, run->input);

    if (sfn_io_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    sfn_inspect(run, "afterInputPath", eff);

    if (st->parameters) {
        memset(&err, 0, sizeof(sfn_err_t));
        env.input = eff;
        res = sfn_tmpl_eval(st->parameters, &env, &err);

        if (owned) {
            cJSON_Delete(eff);
        }

        if (res == NULL) {
            sfn_err_adopt(run, &err);
            sfn_env_done(&env);
            return SFN_R_FAIL;
        }

        eff = res;
        owned = 1;
    }

    sfn_inspect(run, "afterParameters", eff);

    if (st->result) {
        if (owned) {
            cJSON_Delete(eff);
        }

        eff = cJSON_Duplicate(st->result, 1);
        owned = 1;
    }

    if ((owned && sfn_io_check_size(run, eff) != 0)
        || (st->assign && sfn_vars_assign(run, st->assign, eff) != 0))
    {
        if (owned) {
            cJSON_Delete(eff);
        }
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    if (!owned && eff != run->input && st->result_path) {
        /* borrowed from the context: it dies with env */
        eff = cJSON_Duplicate(eff, 1);
        owned = 1;
    }

    if (!owned && eff != run->input && !st->result_path_null) {
        eff = cJSON_Duplicate(eff, 1);
        owned = 1;
    }

    sfn_env_done(&env);

    if (sfn_io_output(run, eff, owned, st->result_path, st->result_path_null)
        != 0)
    {
        return SFN_R_FAIL;
    }

    sfn_state_exit(run);

    return sfn_transition(run, st->next);
}


/* a JSONata Choice: the first rule whose Condition is true */
static int
sfn_state_choice_query(sfn_run_t *run)
{
    int                 yes;
    size_t              i;
    cJSON              *v;
    const cJSON        *lit;
    const sfn_rule_t   *r;
    const sfn_state_t  *st;

    st = run->state;
    r = NULL;

    for (i = 0; i < st->nchoices; i++) {
        lit = sfn_qtmpl_literal(st->choices[i]->condition);

        if (lit) {
            yes = cJSON_IsTrue(lit);

        } else {
            v = sfn_query_eval(run, st->choices[i]->condition, run->input,
                               NULL, NULL);
            if (v == NULL) {
                return SFN_R_FAIL;
            }

            if (!cJSON_IsBool(v)) {
                sfn_query_type_error(run, st->choices[i]->condition,
                                     "boolean", v);
                cJSON_Delete(v);
                return SFN_R_FAIL;
            }

            yes = cJSON_IsTrue(v);
            cJSON_Delete(v);
        }

        if (yes) {
            r = st->choices[i];
            break;
        }
    }

    if (r == NULL && st->deflt == NULL) {
        sfn_runtime(run, "States.NoChoiceMatched",
                    "No Matches! There is no choice rule that matches the "
                    "input and no Default.");
        return SFN_R_FAIL;
    }

    /* a rule's Assign and Output, or the state's with the Default */
    if (sfn_query_output(run, NULL, NULL, r ? r->qassign : st->qassign,
                         r ? r->output : st->output) != 0)
    {
        return SFN_R_FAIL;
    }

    sfn_state_exit(run);

    run->state = r ? r->next : st->deflt;

    return SFN_R_NEXT;
}


int
sfn_state_choice(sfn_run_t *run)
{
    int                 owned, rc;
    size_t              i;
    cJSON              *eff;
    sfn_err_t           err;
    sfn_env_t           env;
    const sfn_tmpl_t   *assign;
    const sfn_state_t  *st, *next;

    st = run->state;

    if (st->jsonata) {
        return sfn_state_choice_query(run);
    }

    sfn_env_init(&env, run, run->input);

    if (sfn_io_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    env.input = eff;
    next = NULL;
    assign = st->assign;
    memset(&err, 0, sizeof(sfn_err_t));

    for (i = 0; i < st->nchoices; i++) {
        rc = sfn_rule_eval(st->choices[i], &env, &err);

        if (rc < 0) {
            if (owned) {
                cJSON_Delete(eff);
            }
            sfn_env_done(&env);
            sfn_err_adopt(run, &err);
            return SFN_R_FAIL;
        }

        if (rc) {
            next = st->choices[i]->next;
            assign = st->choices[i]->assign;
            break;
        }
    }

    if ((next || st->deflt) && assign
        && sfn_vars_assign(run, assign, eff) != 0)
    {
        if (owned) {
            cJSON_Delete(eff);
        }
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    if (eff != run->input) {
        sfn_run_replace_input(run, sfn_io_own(eff, owned));
    }

    sfn_env_done(&env);

    if (next == NULL) {
        next = st->deflt;
    }

    if (next == NULL) {
        sfn_runtime(run, "States.NoChoiceMatched",
                    "No Matches! There is no choice rule that matches the "
                    "input and no Default.");
        return SFN_R_FAIL;
    }

    if (sfn_io_output(run, run->input, 0, NULL, 0) != 0) {
        return SFN_R_FAIL;
    }

    sfn_state_exit(run);

    run->state = next;

    return SFN_R_NEXT;
}


int
sfn_state_succeed(sfn_run_t *run)
{
    int         owned;
    cJSON      *eff;
    sfn_env_t   env;

    if (run->state->jsonata) {
        if (sfn_query_output(run, NULL, NULL, NULL, run->state->output)
            != 0)
        {
            return SFN_R_FAIL;
        }

        sfn_state_exit(run);

        return SFN_R_END;
    }

    sfn_env_init(&env, run, run->input);

    if (sfn_io_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    if (eff != run->input) {
        sfn_run_replace_input(run, sfn_io_own(eff, owned));
    }

    sfn_env_done(&env);

    if (sfn_io_output(run, run->input, 0, NULL, 0) != 0) {
        return SFN_R_FAIL;
    }

    sfn_state_exit(run);

    return SFN_R_END;
}


static int
sfn_state_fail_field(sfn_run_t *run, sfn_env_t *env, const sfn_expr_t *x,
    const char *field, char **out)
{
    int        owned;
    cJSON     *v;
    sfn_err_t  err;

    memset(&err, 0, sizeof(sfn_err_t));

    if (sfn_expr_eval(x, env, field, &v, &owned, &err) != 0) {
        sfn_err_adopt(run, &err);
        return -1;
    }

    if (!cJSON_IsString(v)) {
        if (owned) {
            cJSON_Delete(v);
        }
        sfn_runtime(run, "States.Runtime",
                    "The value of the field '%s' must be a string", field);
        return -1;
    }

    *out = sfn_strdup(v->valuestring);

    if (owned) {
        cJSON_Delete(v);
    }

    return 0;
}


static int
sfn_state_fail_query(sfn_run_t *run, const sfn_qtmpl_t *t, char **out)
{
    cJSON  *v;

    v = sfn_query_eval(run, t, run->input, NULL, NULL);
    if (v == NULL) {
        return -1;
    }

    if (!cJSON_IsString(v)) {
        sfn_query_type_error(run, t, "string", v);
        cJSON_Delete(v);
        return -1;
    }

    free(*out);
    *out = sfn_strdup(v->valuestring);
    cJSON_Delete(v);

    return 0;
}


int
sfn_state_fail(sfn_run_t *run)
{
    char               *error, *cause;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;
    error = sfn_strdup(st->error);
    cause = sfn_strdup(st->cause);

    if ((st->q_error
         && sfn_state_fail_query(run, st->q_error, &error) != 0)
        || (st->q_cause
            && sfn_state_fail_query(run, st->q_cause, &cause) != 0))
    {
        free(error);
        free(cause);
        return SFN_R_FAIL;
    }

    sfn_env_init(&env, run, run->input);

    if ((st->error_path
         && sfn_state_fail_field(run, &env, st->error_path, "ErrorPath",
                                 &error) != 0)
        || (st->cause_path
            && sfn_state_fail_field(run, &env, st->cause_path, "CausePath",
                                    &cause) != 0))
    {
        free(error);
        free(cause);
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    sfn_env_done(&env);

    sfn_err_clear(&run->err);
    run->err.error = error;
    run->err.cause = cause;

    /* a Fail state ends its run; no Retry or Catch applies here */
    return sfn_run_failed(run);
}


/* the cause of a bad SecondsPath or TimestampPath value, as AWS words it */

static void
sfn_state_wait_fail(sfn_run_t *run, const cJSON *v, const char *what)
{
    sfn_buf_t  b;

    memset(&b, 0, sizeof(sfn_buf_t));
    sfn_buf_value(&b, v);

    sfn_runtime(run, "States.Runtime", "%s: %s == %s", what,
                sfn_path_text(run->state->wait_path), b.data ? b.data : "");

    sfn_buf_free(&b);
}


int
sfn_state_wait(sfn_run_t *run)
{
    int                 owned;
    cJSON              *eff, *v;
    int64_t             now, due, sec;
    int32_t             nsec;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;
    sfn_env_init(&env, run, run->input);

    if (sfn_io_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    if (eff != run->input) {
        sfn_run_replace_input(run, sfn_io_own(eff, owned));
    }

    sfn_env_done(&env);

    now = run->entered_ms;
    due = now;

    switch (st->wait_kind) {

    case 1:
        if (st->q_wait
            && sfn_query_int(run, st->q_wait, "Seconds", 0, 99999999, &sec,
                             NULL) != 0)
        {
            return SFN_R_FAIL;
        }

        due = now + (st->q_wait ? sec : st->wait_seconds) * 1000;
        break;

    case 2:
        due = st->wait_ts_ms;

        if (st->q_wait) {
            v = sfn_query_eval(run, st->q_wait, run->input, NULL, NULL);
            if (v == NULL) {
                return SFN_R_FAIL;
            }

            if (!cJSON_IsString(v)
                || sfn_time_parse(v->valuestring, strlen(v->valuestring),
                                  &sec, &nsec) != 0)
            {
                sfn_query_type_error(run, st->q_wait, "timestamp", v);
                cJSON_Delete(v);
                return SFN_R_FAIL;
            }

            cJSON_Delete(v);
            due = sec * 1000 + nsec / 1000000;
        }
        break;

    default:
        sfn_env_init(&env, run, run->input);

        if (sfn_path_eval(st->wait_path, &env, &v, &owned) != 0) {
            sfn_env_done(&env);
            sfn_runtime(run, "States.Runtime",
                        "The %s parameter does not reference an input "
                        "value: %s",
                        st->wait_kind == 3 ? "SecondsPath" : "TimestampPath",
                        sfn_path_text(st->wait_path));
            return SFN_R_FAIL;
        }

        if (st->wait_kind == 3) {
            if (!sfn_json_is_int(v, &sec)) {
                sfn_state_wait_fail(run, v, "The SecondsPath parameter "
                                    "cannot be parsed as a long value");
                goto bad;
            }

            if (sec < 0) {
                sfn_state_wait_fail(run, v, "The SecondsPath parameter "
                                    "references a negative value");
                goto bad;
            }

            due = now + sec * 1000;

        } else {
            if (!cJSON_IsString(v)
                || sfn_time_parse(v->valuestring, strlen(v->valuestring),
                                  &sec, &nsec) != 0)
            {
                sfn_state_wait_fail(run, v, "The TimestampPath parameter "
                                    "does not reference a valid ISO-8601 "
                                    "extended offset date-time format "
                                    "string");
                goto bad;
            }

            due = sec * 1000 + nsec / 1000000;
        }

        if (owned) {
            cJSON_Delete(v);
        }
        sfn_env_done(&env);
    }

    if (due <= now) {
        goto done;
    }

    if ((due - now) / 1000 > SFN_WAIT_MAX) {
        sfn_runtime(run, "States.Runtime", "Wait state delay is too long.");
        return SFN_R_FAIL;
    }

    run->timer_id = ++run->e->next_id;
    run->timer_kind = SFN_W_WAIT;
    run->timer_due = due;

    if (sfn_slot_add(run->e, run->timer_id, run, SFN_W_WAIT) != 0
        || run->e->host.arm_timer(run->e->host.data, run->e, run->timer_id,
                                  due) != SFN_OK)
    {
        sfn_slot_del(run->e, run->timer_id);
        run->timer_id = 0;
        sfn_runtime(run, "States.Runtime", "cannot arm the Wait timer");
        return SFN_R_FAIL;
    }

    return SFN_R_WAIT;

done:

    return sfn_state_wait_done(run);

bad:

    if (owned) {
        cJSON_Delete(v);
    }
    sfn_env_done(&env);

    return SFN_R_FAIL;
}


int
sfn_state_wait_done(sfn_run_t *run)
{
    const sfn_state_t  *st;

    st = run->state;
    run->timer_id = 0;

    if (st->jsonata) {
        if (sfn_query_output(run, NULL, NULL, st->qassign, st->output) != 0)
        {
            return SFN_R_FAIL;
        }

    } else if ((st->assign
                && sfn_vars_assign(run, st->assign, run->input) != 0)
               || sfn_io_output(run, run->input, 0, NULL, 0) != 0)
    {
        return SFN_R_FAIL;
    }

    sfn_state_exit(run);

    return sfn_transition(run, run->state->next);
}


static void
sfn_exec_task_token(sfn_run_t *run)
{
    char           *t;
    unsigned char   rnd[48];

    free(run->token);

    sfn_random(run->e, rnd, sizeof(rnd));

    t = malloc(sizeof(rnd) / 3 * 4 + 4);
    if (t) {
        sfn_base64_encode(rnd, sizeof(rnd), t);
    }

    run->token = t;
}


int
sfn_exec_task(sfn_run_t *run)
{
    const sfn_state_t  *st;

    st = run->state;

    /* a token is the task's own: the next Task of the run has none */

    if (st->wait_token || st->activity) {
        sfn_exec_task_token(run);

    } else if (run->token) {
        free(run->token);
        run->token = NULL;
    }

    run->timeout_ms = st->timeout_ms;
    run->heartbeat_ms = st->heartbeat_ms;

    if ((st->q_timeout
         && sfn_query_int(run, st->q_timeout, "TimeoutSeconds", 1, 99999999,
                          &run->timeout_ms, NULL) != 0)
        || (st->q_heartbeat
            && sfn_query_int(run, st->q_heartbeat, "HeartbeatSeconds", 1,
                             99999999, &run->heartbeat_ms, NULL) != 0))
    {
        return SFN_R_FAIL;
    }

    if (st->q_timeout) {
        run->timeout_ms *= 1000;
    }

    if (st->q_heartbeat) {
        run->heartbeat_ms *= 1000;
    }

    if (st->timeout_path
        && sfn_io_path_int(run, st->timeout_path, run->input,
                           "TimeoutSecondsPath", &run->timeout_ms, NULL) != 0)
    {
        return SFN_R_FAIL;
    }

    if (st->heartbeat_path
        && sfn_io_path_int(run, st->heartbeat_path, run->input,
                           "HeartbeatSecondsPath", &run->heartbeat_ms, NULL)
           != 0)
    {
        return SFN_R_FAIL;
    }

    if (st->timeout_path) {
        run->timeout_ms *= 1000;
    }

    if (st->heartbeat_path) {
        run->heartbeat_ms *= 1000;
    }

    if (sfn_io_effective(run) != 0) {
        return SFN_R_FAIL;
    }

    return sfn_exec_task_schedule(run);
}


void
sfn_exec_task_timers_cancel(sfn_run_t *run)
{
    sfn_exec_t  *e;

    e = run->e;

    if (run->timeout_id) {
        sfn_slot_del(e, run->timeout_id);
        e->host.cancel_timer(e->host.data, e, run->timeout_id);
        run->timeout_id = 0;
    }

    if (run->hb_id) {
        sfn_slot_del(e, run->hb_id);
        e->host.cancel_timer(e->host.data, e, run->hb_id);
        run->hb_id = 0;
    }
}


static int
sfn_exec_task_schedule(sfn_run_t *run)
{
    int              rc;
    char            *s;
    cJSON           *d, *in;
    uint64_t         id;
    int64_t          now;
    sfn_exec_t      *e;
    const void      *mock;
    sfn_task_req_t   req;

    e = run->e;

    /* a mocked state takes its invocation's response, or fails at once */

    rc = sfn_mock_next(run, &mock);

    if (rc == SFN_ERROR) {
        return SFN_R_FAIL;
    }

    if (rc == SFN_DECLINED) {
        mock = NULL;
    }

    now = e->host.now_ms(e->host.data);

    id = ++e->next_id;
    run->task_id = id;

    if (sfn_slot_add(e, id, run, SFN_W_TASK) != 0) {
        run->task_id = 0;
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return SFN_R_FAIL;
    }

    if (run->timeout_ms && mock == NULL) {
        run->timeout_id = ++e->next_id;
        run->timeout_due = now + run->timeout_ms;
        if (sfn_slot_add(e, run->timeout_id, run, SFN_W_TIMEOUT) != 0
            || e->host.arm_timer(e->host.data, e, run->timeout_id,
                                 now + run->timeout_ms) != SFN_OK)
        {
            sfn_slot_del(e, run->timeout_id);
            run->timeout_id = 0;
        }
    }

    if (run->heartbeat_ms && mock == NULL) {
        run->hb_id = ++e->next_id;
        run->hb_due = now + run->heartbeat_ms;
        if (sfn_slot_add(e, run->hb_id, run, SFN_W_HEARTBEAT) != 0
            || e->host.arm_timer(e->host.data, e, run->hb_id,
                                 now + run->heartbeat_ms) != SFN_OK)
        {
            sfn_slot_del(e, run->hb_id);
            run->hb_id = 0;
        }
    }

    if (run->state->activity) {
        /* ActivityStarted comes when a worker takes it */
        sfn_emit_activity(run, "Scheduled", run->eff, NULL);
        goto run;
    }

    d = NULL;
    if (sfn_history_on(e)) {
        d = sfn_details("taskScheduledEventDetails", &in);
        if (d) {
            cJSON_AddStringToObject(in, "resourceType",
                                    run->state->resource_type);
            cJSON_AddStringToObject(in, "resource",
                                    run->state->resource_name);
            cJSON_AddStringToObject(in, "region", "local");
            s = sfn_json_print(run->eff);
            cJSON_AddStringToObject(in, "parameters", s ? s : "null");
            free(s);
            if (run->timeout_ms) {
                cJSON_AddNumberToObject(in, "timeoutInSeconds",
                                        (double) (run->timeout_ms / 1000));
            }
            if (run->heartbeat_ms) {
                cJSON_AddNumberToObject(in, "heartbeatInSeconds",
                                        (double) (run->heartbeat_ms / 1000));
            }
        }
    }

    sfn_emit(e, run, "TaskScheduled", d);

    d = NULL;
    if (sfn_history_on(e)) {
        d = sfn_details("taskStartedEventDetails", &in);
        if (d) {
            cJSON_AddStringToObject(in, "resourceType",
                                    run->state->resource_type);
            cJSON_AddStringToObject(in, "resource",
                                    run->state->resource_name);
        }
    }

    sfn_emit(e, run, "TaskStarted", d);

run:

    if (mock) {
        sfn_mock_answer(e, id, mock);
        return SFN_R_WAIT;
    }

    memset(&req, 0, sizeof(sfn_task_req_t));
    req.id = id;
    req.state = run->state->name;
    req.resource = run->state->resource;
    req.input = run->eff;
    req.token = run->token;
    req.timeout_ms = run->timeout_ms;
    req.heartbeat_ms = run->heartbeat_ms;
    req.attempt = run->retry_total;

    rc = e->host.run_task(e->host.data, e, &req);

    if (rc == SFN_ERROR && sfn_slot_find(e, id)) {
        /* refused at once: a task failure, subject to Retry and Catch */
        sfn_slot_del(e, id);
        run->task_id = 0;
        sfn_exec_task_timers_cancel(run);
        sfn_err_set(&run->err, "States.TaskFailed",
                    "The task could not be started");
        sfn_emit_error(e, run, run->state->activity ? "TaskStartFailed"
                                                    : "TaskFailed",
                       "taskFailedEventDetails", run->err.error,
                       run->err.cause, run->state);
        return SFN_R_FAIL;
    }

    return SFN_R_WAIT;
}


int
sfn_exec_task_result(sfn_run_t *run)
{
    cJSON       *res, *d, *in;
    sfn_exec_t  *e;

    e = run->e;
    res = run->result;
    run->result = NULL;

    if (run->state->activity) {
        sfn_emit_activity(run, "Succeeded", res, NULL);
        return sfn_state_result(run, res);
    }

    d = NULL;
    if (sfn_history_on(e)) {
        d = sfn_details("taskSucceededEventDetails", &in);
        if (d) {
            cJSON_AddStringToObject(in, "resourceType",
                                    run->state->resource_type);
            cJSON_AddStringToObject(in, "resource",
                                    run->state->resource_name);
            sfn_details_payload(in, "output", "outputDetails", res);
        }
    }

    sfn_emit(e, run, "TaskSucceeded", d);

    return sfn_state_result(run, res);
}
