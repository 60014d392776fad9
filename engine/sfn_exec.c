
/*
 * Copyright (C) ngx_sfn authors
 *
 * The interpreter.  An execution is a tree of runs: the main run, and one
 * child run per Parallel branch or Map iteration in progress.  Runs that
 * can make progress sit on a FIFO ready queue; every public entry point
 * records its event and drains the queue, so nothing recurses through
 * host callbacks, and a task answered from inside run_task() is simply
 * queued.  Tasks and timers the engine waits for live in a small hash from
 * id to run.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_core.h"
#include "sfn_exec.h"


static int sfn_run_states(sfn_run_t *run);
static void sfn_run_abort(sfn_run_t *run, int emit);
static int sfn_state_error(sfn_run_t *run);
static int sfn_run_failed(sfn_run_t *run);
static int sfn_children_check(sfn_run_t *run);
static int sfn_task_schedule(sfn_run_t *run);
static int sfn_children_start(sfn_run_t *run);
static void sfn_exec_finish(sfn_exec_t *e, sfn_status_e status,
    cJSON *output, const char *error, const char *cause);


/* the id -> waiting run hash: open addressing, backward-shift deletion */


static uint64_t
sfn_slot_hash(uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;

    return id;
}


static int
sfn_slot_grow(sfn_exec_t *e)
{
    size_t       i, cap, k;
    sfn_slot_t  *old, *slots;

    cap = e->slots_cap ? e->slots_cap * 2 : 16;
    slots = calloc(cap, sizeof(sfn_slot_t));
    if (slots == NULL) {
        return -1;
    }

    old = e->slots;

    for (i = 0; i < e->slots_cap; i++) {
        if (old[i].id == 0) {
            continue;
        }

        k = sfn_slot_hash(old[i].id) & (cap - 1);
        while (slots[k].id) {
            k = (k + 1) & (cap - 1);
        }
        slots[k] = old[i];
    }

    free(old);
    e->slots = slots;
    e->slots_cap = cap;

    return 0;
}


int
sfn_slot_add(sfn_exec_t *e, uint64_t id, sfn_run_t *run, int kind)
{
    size_t  k;

    if ((e->nslots + 1) * 2 > e->slots_cap && sfn_slot_grow(e) != 0) {
        return -1;
    }

    k = sfn_slot_hash(id) & (e->slots_cap - 1);
    while (e->slots[k].id) {
        k = (k + 1) & (e->slots_cap - 1);
    }

    e->slots[k].id = id;
    e->slots[k].run = run;
    e->slots[k].kind = kind;
    e->nslots++;

    return 0;
}


static sfn_slot_t *
sfn_slot_find(sfn_exec_t *e, uint64_t id)
{
    size_t  k;

    if (id == 0 || e->slots_cap == 0) {
        return NULL;
    }

    k = sfn_slot_hash(id) & (e->slots_cap - 1);

    while (e->slots[k].id) {
        if (e->slots[k].id == id) {
            return &e->slots[k];
        }
        k = (k + 1) & (e->slots_cap - 1);
    }

    return NULL;
}


static void
sfn_slot_del(sfn_exec_t *e, uint64_t id)
{
    size_t       i, j, h, mask;
    sfn_slot_t  *s;

    s = sfn_slot_find(e, id);
    if (s == NULL) {
        return;
    }

    mask = e->slots_cap - 1;
    i = s - e->slots;
    e->slots[i].id = 0;
    e->nslots--;

    for (j = (i + 1) & mask; e->slots[j].id; j = (j + 1) & mask) {
        h = sfn_slot_hash(e->slots[j].id) & mask;

        /* move j back to i unless its home lies cyclically in (i, j] */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            e->slots[i] = e->slots[j];
            e->slots[j].id = 0;
            i = j;
        }
    }
}


/* ready queue */


static void
sfn_enqueue(sfn_run_t *run, int action)
{
    sfn_exec_t  *e;

    run->action = action;

    if (run->queued) {
        return;
    }

    e = run->e;
    run->queued = 1;
    run->qnext = NULL;

    if (e->qtail) {
        e->qtail->qnext = run;
    } else {
        e->qhead = run;
    }

    e->qtail = run;
}


static sfn_run_t *
sfn_dequeue(sfn_exec_t *e)
{
    sfn_run_t  *run;

    run = e->qhead;
    if (run == NULL) {
        return NULL;
    }

    e->qhead = run->qnext;
    if (e->qhead == NULL) {
        e->qtail = NULL;
    }

    run->queued = 0;
    run->qnext = NULL;

    return run;
}


/* history events */


static int
sfn_events(sfn_exec_t *e)
{
    return e->host.event != NULL;
}


/*
 * A Standard execution's history holds at most SFN_MAX_HISTORY events: once
 * it has one less, what more the step would emit is dropped and sfn_drain()
 * ends the execution with the last one.
 */

static int
sfn_history_full(sfn_exec_t *e)
{
    if (e->event_id < SFN_MAX_HISTORY - 1 || e->type != SFN_STANDARD
        || e->status != SFN_RUNNING)
    {
        return 0;
    }

    e->history_full = 1;

    return 1;
}


static int64_t
sfn_emit(sfn_exec_t *e, sfn_run_t *run, const char *type, cJSON *details)
{
    int64_t      id;
    sfn_event_t  ev;

    if (sfn_history_full(e)) {
        cJSON_Delete(details);
        return e->event_id;
    }

    id = ++e->event_id;

    if (e->host.event) {
        ev.id = id;
        ev.previous_id = run ? run->prev_id : (id > 1 ? id - 1 : 0);
        ev.timestamp_ms = e->host.now_ms(e->host.data);
        ev.type = type;
        ev.details = details;

        e->host.event(e->host.data, e, &ev);
    }

    if (run) {
        run->prev_id = id;
    }

    cJSON_Delete(details);

    return id;
}


static cJSON *
sfn_details(const char *field, cJSON **inner)
{
    cJSON  *d;

    d = cJSON_CreateObject();
    *inner = cJSON_CreateObject();

    if (d == NULL || *inner == NULL) {
        cJSON_Delete(d);
        cJSON_Delete(*inner);
        *inner = NULL;
        return NULL;
    }

    cJSON_AddItemToObject(d, field, *inner);

    return d;
}


static void
sfn_details_payload(cJSON *inner, const char *name, const char *dname,
    const cJSON *v)
{
    char   *s;
    cJSON  *det;

    s = v ? sfn_json_print(v) : NULL;
    cJSON_AddStringToObject(inner, name, s ? s : "null");
    free(s);

    det = cJSON_AddObjectToObject(inner, dname);
    if (det) {
        cJSON_AddFalseToObject(det, "truncated");
    }
}


static void
sfn_emit_state(sfn_run_t *run, const char *suffix, const cJSON *payload)
{
    int         entered;
    char        type[64];
    cJSON      *d, *in;

    entered = suffix[0] == 'E' && suffix[1] == 'n';

    if (!sfn_events(run->e)) {
        /* no host to tell: only the numbering must go on */
        if (sfn_history_full(run->e)) {
            return;
        }
        run->prev_id = ++run->e->event_id;
        if (entered) {
            run->entered_id = run->prev_id;
        }
        return;
    }

    snprintf(type, sizeof(type), "%sState%s", run->state->type_name, suffix);

    d = NULL;

    {
        d = sfn_details(entered ? "stateEnteredEventDetails"
                                : "stateExitedEventDetails", &in);
        if (d) {
            cJSON_AddStringToObject(in, "name", run->state->name);
            sfn_details_payload(in, entered ? "input" : "output",
                                entered ? "inputDetails" : "outputDetails",
                                payload);
        }
    }

    if (entered) {
        run->entered_id = sfn_emit(run->e, run, type, d);

    } else {
        sfn_emit(run->e, run, type, d);
    }
}


static void
sfn_emit_simple(sfn_run_t *run, const char *type)
{
    sfn_emit(run->e, run, type, NULL);
}


static void
sfn_emit_error(sfn_exec_t *e, sfn_run_t *run, const char *type,
    const char *field, const char *error, const char *cause,
    const sfn_state_t *task)
{
    cJSON  *d, *in;

    d = NULL;

    if (sfn_events(e)) {
        d = sfn_details(field, &in);
        if (d) {
            if (task) {
                cJSON_AddStringToObject(in, "resourceType", run->rtype);
                cJSON_AddStringToObject(in, "resource", run->rname);
            }
            if (error) {
                cJSON_AddStringToObject(in, "error", error);
            }
            if (cause) {
                cJSON_AddStringToObject(in, "cause", cause);
            }
        }
    }

    sfn_emit(e, run, type, d);
}


static void
sfn_emit_iteration(sfn_run_t *parent, const char *type, size_t index)
{
    cJSON  *d, *in;

    d = NULL;

    if (sfn_events(parent->e)) {
        d = sfn_details(strcmp(type, "MapIterationStarted") == 0
                        ? "mapIterationStartedEventDetails"
                        : (strcmp(type, "MapIterationSucceeded") == 0
                           ? "mapIterationSucceededEventDetails"
                           : (strcmp(type, "MapIterationFailed") == 0
                              ? "mapIterationFailedEventDetails"
                              : "mapIterationAbortedEventDetails")), &in);
        if (d) {
            cJSON_AddStringToObject(in, "name", parent->state->name);
            cJSON_AddNumberToObject(in, "index", (double) index);
        }
    }

    sfn_emit(parent->e, parent, type, d);
}


/* the context object, built only when a "$$" path asks for it */


static cJSON *
sfn_json_ref(const cJSON *v)
{
    if (cJSON_IsObject(v)) {
        return cJSON_CreateObjectReference(v->child);
    }

    if (cJSON_IsArray(v)) {
        return cJSON_CreateArrayReference(v->child);
    }

    if (cJSON_IsString(v)) {
        return cJSON_CreateStringReference(v->valuestring);
    }

    return cJSON_Duplicate(v, 0);
}


static void
sfn_ctx_build(sfn_env_t *env)
{
    char         ts[64];
    cJSON       *ctx, *x, *it;
    sfn_run_t   *run;
    sfn_exec_t  *e;

    run = env->data;
    e = run->e;

    ctx = cJSON_CreateObject();
    if (ctx == NULL) {
        return;
    }

    x = cJSON_AddObjectToObject(ctx, "Execution");
    if (x) {
        cJSON_AddStringToObject(x, "Id", e->arn);
        if (e->input == NULL) {
            /* parsed again only when a path reads $$.Execution.Input */
            e->input = sfn_json_parse(e->input_text, strlen(e->input_text));
        }
        if (e->input) {
            cJSON_AddItemToObject(x, "Input", sfn_json_ref(e->input));
        }
        cJSON_AddStringToObject(x, "Name", e->name);
        cJSON_AddStringToObject(x, "RoleArn", e->role_arn);
        if (e->start_time[0] == '\0') {
            sfn_time_format(e->start_ms, e->start_time);
        }
        cJSON_AddStringToObject(x, "StartTime", e->start_time);
        if (e->type == SFN_STANDARD) {
            cJSON_AddNumberToObject(x, "RedriveCount", 0);
        }
    }

    x = cJSON_AddObjectToObject(ctx, "State");
    if (x) {
        sfn_time_format(run->entered_ms, ts);
        cJSON_AddStringToObject(x, "EnteredTime", ts);
        cJSON_AddStringToObject(x, "Name", run->state->name);
        if (run->state->type == SFN_ST_TASK
            || run->state->type == SFN_ST_PARALLEL
            || run->state->type == SFN_ST_MAP)
        {
            cJSON_AddNumberToObject(x, "RetryCount", run->retry_total);
        }
    }

    x = cJSON_AddObjectToObject(ctx, "StateMachine");
    if (x) {
        cJSON_AddStringToObject(x, "Id", e->sm_arn);
        cJSON_AddStringToObject(x, "Name", e->sm_name);
    }

    if (run->token) {
        x = cJSON_AddObjectToObject(ctx, "Task");
        if (x) {
            cJSON_AddStringToObject(x, "Token", run->token);
        }
    }

    if (run->map_item) {
        x = cJSON_AddObjectToObject(ctx, "Map");
        it = x ? cJSON_AddObjectToObject(x, "Item") : NULL;
        if (it) {
            cJSON_AddNumberToObject(it, "Index", (double) run->map_index);
            cJSON_AddItemToObject(it, "Value", sfn_json_ref(run->map_item));
        }
    }

    env->ctx = ctx;
}


static void
sfn_random(void *data, void *buf, size_t len)
{
    sfn_exec_t  *e;

    e = data;

    if (e->host.random) {
        e->host.random(e->host.data, buf, len);

    } else {
        memset(buf, 0, len);
    }
}


static void
sfn_env_init(sfn_env_t *env, sfn_run_t *run, const cJSON *input)
{
    env->input = input;
    env->ctx = NULL;
    env->build_ctx = sfn_ctx_build;
    env->data = run;
    env->random = sfn_random;
    env->rdata = run->e;
}


static void
sfn_env_done(sfn_env_t *env)
{
    cJSON_Delete(env->ctx);
    env->ctx = NULL;
}


/* errors */


static void
sfn_runtime(sfn_run_t *run, const char *error, const char *fmt, ...)
{
    int       n;
    char     *msg;
    va_list   ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    msg = malloc(n > 0 ? n + 1 : 1);
    if (msg == NULL) {
        sfn_err_set(&run->err, error, NULL);
        return;
    }

    va_start(ap, fmt);
    vsnprintf(msg, n + 1, fmt, ap);
    va_end(ap);

    sfn_err_set(&run->err, error,
                "An error occurred while executing the state '%s' (entered "
                "at the event id #%lld). %s", run->state->name,
                (long long) run->entered_id, msg);
    free(msg);
}


/* adds AWS's state prefix to a States.Runtime cause from an evaluator */
static void
sfn_err_adopt(sfn_run_t *run, sfn_err_t *err)
{
    if (err->error && strcmp(err->error, "States.Runtime") == 0) {
        sfn_runtime(run, "States.Runtime", "%s",
                    err->cause ? err->cause : "");
        sfn_err_clear(err);
        return;
    }

    sfn_err_move(&run->err, err);
}


static int
sfn_check_size(sfn_run_t *run, const cJSON *v)
{
    if (v && sfn_json_size(v) > SFN_MAX_PAYLOAD) {
        sfn_err_set(&run->err, "States.DataLimitExceeded",
                    "The state/task '%s' returned a result with a size "
                    "exceeding the maximum number of bytes service limit.",
                    run->state->name);
        return -1;
    }

    return 0;
}


/* input and output processing */


/* InputPath: *out is borrowed from run->input or env, or owned */
static int
sfn_input_path(sfn_run_t *run, sfn_env_t *env, cJSON **out, int *owned)
{
    sfn_buf_t           b;
    const sfn_state_t  *st;

    st = run->state;

    if (st->input_path_null) {
        *out = cJSON_CreateObject();
        *owned = 1;
        return *out ? 0 : -1;
    }

    if (st->input_path == NULL) {
        *out = run->input;
        *owned = 0;
        return 0;
    }

    if (sfn_path_eval(st->input_path, env, out, owned) == 0) {
        return 0;
    }

    memset(&b, 0, sizeof(sfn_buf_t));
    sfn_path_normalized(st->input_path, &b);
    sfn_runtime(run, "States.Runtime",
                "Invalid path '%s' : No results for path: %s",
                sfn_path_text(st->input_path), b.data ? b.data : "");
    sfn_buf_free(&b);

    return -1;
}


static cJSON *
sfn_own(cJSON *v, int owned)
{
    return owned ? v : cJSON_Duplicate(v, 1);
}


/*
 * ResultPath then OutputPath.  Consumes run->input and the result; puts
 * the state output into run->input.
 */
static int
sfn_output(sfn_run_t *run, cJSON *result, int owned,
    const sfn_path_t *rp, int rp_null)
{
    int           vowned;
    char         *in;
    cJSON        *raw, *out, *v;
    sfn_buf_t     b;
    sfn_env_t     env;
    const sfn_state_t  *st;

    st = run->state;
    raw = run->input;
    run->input = NULL;

    if (rp_null) {
        if (owned) {
            cJSON_Delete(result);
        }
        out = raw;

    } else if (rp == NULL) {
        if (owned) {
            out = result;
            cJSON_Delete(raw);

        } else if (result == raw) {
            out = raw;

        } else {
            out = cJSON_Duplicate(result, 1);
            cJSON_Delete(raw);
        }

    } else {
        v = sfn_own(result, owned);

        if (v == NULL || sfn_path_set(rp, &raw, v) != 0) {
            in = sfn_json_print(raw);
            sfn_err_set(&run->err, "States.ResultPathMatchFailure",
                        "Unable to apply ReferencePath %s to input %s",
                        sfn_path_text(rp), in ? in : "");
            free(in);
            cJSON_Delete(v);
            run->input = raw;
            return -1;
        }

        out = raw;
    }

    if (out == NULL) {
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return -1;
    }

    if (st->output_path_null) {
        cJSON_Delete(out);
        out = cJSON_CreateObject();

    } else if (st->output_path) {
        sfn_env_init(&env, run, out);

        if (sfn_path_eval(st->output_path, &env, &v, &vowned) != 0) {
            memset(&b, 0, sizeof(sfn_buf_t));
            sfn_path_normalized(st->output_path, &b);
            sfn_runtime(run, "States.Runtime",
                        "Invalid path '%s' : No results for path: %s",
                        sfn_path_text(st->output_path),
                        b.data ? b.data : "");
            sfn_buf_free(&b);
            sfn_env_done(&env);
            run->input = out;
            return -1;
        }

        if (v != out) {
            v = sfn_own(v, vowned);
            cJSON_Delete(out);
            out = v;
        }

        sfn_env_done(&env);
    }

    run->input = out;

    return 0;
}


/* moves to st->next, or ends the run */
static int
sfn_transition(sfn_run_t *run, const sfn_state_t *next)
{
    if (next) {
        run->state = next;
        return SFN_R_NEXT;
    }

    return SFN_R_END;
}


/* states */


static int
sfn_pass(sfn_run_t *run)
{
    int                 owned;
    cJSON              *eff, *res;
    sfn_err_t           err;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;
    sfn_env_init(&env, run, run->input);

    if (sfn_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

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

    if (st->result) {
        if (owned) {
            cJSON_Delete(eff);
        }

        eff = cJSON_Duplicate(st->result, 1);
        owned = 1;
    }

    if (owned && sfn_check_size(run, eff) != 0) {
        cJSON_Delete(eff);
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

    if (sfn_output(run, eff, owned, st->result_path, st->result_path_null)
        != 0)
    {
        return SFN_R_FAIL;
    }

    sfn_emit_state(run, "Exited", run->input);

    return sfn_transition(run, st->next);
}


static int
sfn_choice(sfn_run_t *run)
{
    int                 owned, rc;
    size_t              i;
    cJSON              *eff;
    sfn_err_t           err;
    sfn_env_t           env;
    const sfn_state_t  *st, *next;

    st = run->state;
    sfn_env_init(&env, run, run->input);

    if (sfn_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    env.input = eff;
    next = NULL;
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
            break;
        }
    }

    if (eff != run->input) {
        eff = sfn_own(eff, owned);
        cJSON_Delete(run->input);
        run->input = eff;
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

    if (sfn_output(run, run->input, 0, NULL, 0) != 0) {
        return SFN_R_FAIL;
    }

    sfn_emit_state(run, "Exited", run->input);

    run->state = next;

    return SFN_R_NEXT;
}


static int
sfn_succeed(sfn_run_t *run)
{
    int         owned;
    cJSON      *eff;
    sfn_env_t   env;

    sfn_env_init(&env, run, run->input);

    if (sfn_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    if (eff != run->input) {
        eff = sfn_own(eff, owned);
        cJSON_Delete(run->input);
        run->input = eff;
    }

    sfn_env_done(&env);

    if (sfn_output(run, run->input, 0, NULL, 0) != 0) {
        return SFN_R_FAIL;
    }

    sfn_emit_state(run, "Exited", run->input);

    return SFN_R_END;
}


static int
sfn_fail_field(sfn_run_t *run, sfn_env_t *env, const sfn_expr_t *x,
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
sfn_fail(sfn_run_t *run)
{
    char               *error, *cause;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;
    error = sfn_strdup(st->error);
    cause = sfn_strdup(st->cause);

    sfn_env_init(&env, run, run->input);

    if ((st->error_path
         && sfn_fail_field(run, &env, st->error_path, "ErrorPath", &error)
            != 0)
        || (st->cause_path
            && sfn_fail_field(run, &env, st->cause_path, "CausePath", &cause)
               != 0))
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


static int
sfn_wait(sfn_run_t *run)
{
    int                 owned;
    cJSON              *eff, *v;
    int64_t             now, due, sec;
    int32_t             nsec;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;
    sfn_env_init(&env, run, run->input);

    if (sfn_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return SFN_R_FAIL;
    }

    if (eff != run->input) {
        eff = sfn_own(eff, owned);
        cJSON_Delete(run->input);
        run->input = eff;
    }

    sfn_env_done(&env);

    now = run->entered_ms;
    due = now;

    switch (st->wait_kind) {

    case 1:
        due = now + st->wait_seconds * 1000;
        break;

    case 2:
        due = st->wait_ts_ms;
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
            if (!sfn_json_is_int(v, &sec) || sec < 0 || sec > 99999999) {
                sfn_runtime(run, "States.Runtime",
                            "The SecondsPath parameter references an "
                            "invalid value: it must be a non-negative "
                            "integer: %s", sfn_path_text(st->wait_path));
                goto bad;
            }

            due = now + sec * 1000;

        } else {
            if (!cJSON_IsString(v)
                || sfn_time_parse(v->valuestring, strlen(v->valuestring),
                                  &sec, &nsec) != 0)
            {
                sfn_runtime(run, "States.Runtime",
                            "The TimestampPath parameter does not reference "
                            "a valid ISO-8601 extended offset date-time "
                            "format string: %s",
                            sfn_path_text(st->wait_path));
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

    if (sfn_output(run, run->input, 0, NULL, 0) != 0) {
        return SFN_R_FAIL;
    }

    sfn_emit_state(run, "Exited", run->input);

    return sfn_transition(run, st->next);

bad:

    if (owned) {
        cJSON_Delete(v);
    }
    sfn_env_done(&env);

    return SFN_R_FAIL;
}


static int
sfn_wait_done(sfn_run_t *run)
{
    run->timer_id = 0;

    if (sfn_output(run, run->input, 0, NULL, 0) != 0) {
        return SFN_R_FAIL;
    }

    sfn_emit_state(run, "Exited", run->input);

    return sfn_transition(run, run->state->next);
}


/* the effective input of Task, Parallel and Map: InputPath, Parameters */
static int
sfn_effective(sfn_run_t *run)
{
    int                 owned;
    cJSON              *eff, *res;
    sfn_err_t           err;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;
    sfn_env_init(&env, run, run->input);

    if (sfn_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return -1;
    }

    if (st->parameters) {
        memset(&err, 0, sizeof(sfn_err_t));
        env.input = eff;
        res = sfn_tmpl_eval(st->parameters, &env, &err);

        if (owned) {
            cJSON_Delete(eff);
        }

        sfn_env_done(&env);

        if (res == NULL) {
            sfn_err_adopt(run, &err);
            return -1;
        }

        run->eff = res;
        return 0;
    }

    run->eff = sfn_own(eff, owned);
    sfn_env_done(&env);

    return run->eff ? 0 : -1;
}


static int
sfn_path_int(sfn_run_t *run, const sfn_path_t *p, const cJSON *input,
    const char *field, int64_t *out, double *dout)
{
    int        owned, ok;
    cJSON     *v;
    sfn_env_t  env;

    sfn_env_init(&env, run, input);

    if (sfn_path_eval(p, &env, &v, &owned) != 0) {
        sfn_env_done(&env);
        sfn_runtime(run, "States.Runtime",
                    "The %s field references a path that does not exist "
                    "in the input: %s", field, sfn_path_text(p));
        return -1;
    }

    if (dout) {
        ok = cJSON_IsNumber(v) && v->valuedouble >= 0
             && v->valuedouble <= 100;
        if (ok) {
            *dout = v->valuedouble;
        }

    } else {
        ok = sfn_json_is_int(v, out) && *out >= 0;
    }

    if (owned) {
        cJSON_Delete(v);
    }

    sfn_env_done(&env);

    if (!ok) {
        sfn_runtime(run, "States.Runtime",
                    "The %s field references an invalid value: %s", field,
                    sfn_path_text(p));
        return -1;
    }

    return 0;
}


void
sfn_resource_split(sfn_run_t *run)
{
    const char  *r, *p;
    size_t       n;

    r = run->state->resource;

    if (strncmp(r, "arn:aws:states:::", 17) == 0) {
        r += 17;
        p = strchr(r, ':');
        n = p ? (size_t) (p - r) : strlen(r);
        run->rtype = sfn_strndup(r, n);
        run->rname = sfn_strdup(p ? p + 1 : r);
        return;
    }

    if (strncmp(r, "arn:aws:lambda:", 15) == 0) {
        run->rtype = sfn_strdup("lambda");
        run->rname = sfn_strdup(r);
        return;
    }

    p = strchr(r, ':');
    n = p ? (size_t) (p - r) : strlen(r);
    run->rtype = sfn_strndup(r, n);
    run->rname = sfn_strdup(p ? p + 1 : r);
}


static void
sfn_make_token(sfn_run_t *run)
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


static int
sfn_task(sfn_run_t *run)
{
    const sfn_state_t  *st;

    st = run->state;

    if (run->rtype == NULL) {
        sfn_resource_split(run);
    }

    if (st->wait_token) {
        sfn_make_token(run);
    }

    run->timeout_ms = st->timeout_ms;
    run->heartbeat_ms = st->heartbeat_ms;

    if (st->timeout_path
        && sfn_path_int(run, st->timeout_path, run->input,
                        "TimeoutSecondsPath", &run->timeout_ms, NULL) != 0)
    {
        return SFN_R_FAIL;
    }

    if (st->heartbeat_path
        && sfn_path_int(run, st->heartbeat_path, run->input,
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

    if (sfn_effective(run) != 0) {
        return SFN_R_FAIL;
    }

    return sfn_task_schedule(run);
}


static void
sfn_task_timers_cancel(sfn_run_t *run)
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
sfn_task_schedule(sfn_run_t *run)
{
    int              rc;
    char            *s;
    cJSON           *d, *in;
    uint64_t         id;
    int64_t          now;
    sfn_exec_t      *e;
    sfn_task_req_t   req;

    e = run->e;
    now = e->host.now_ms(e->host.data);

    id = ++e->next_id;
    run->task_id = id;

    if (sfn_slot_add(e, id, run, SFN_W_TASK) != 0) {
        run->task_id = 0;
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return SFN_R_FAIL;
    }

    if (run->timeout_ms) {
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

    if (run->heartbeat_ms) {
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

    d = NULL;
    if (sfn_events(e)) {
        d = sfn_details("taskScheduledEventDetails", &in);
        if (d) {
            cJSON_AddStringToObject(in, "resourceType", run->rtype);
            cJSON_AddStringToObject(in, "resource", run->rname);
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
    if (sfn_events(e)) {
        d = sfn_details("taskStartedEventDetails", &in);
        if (d) {
            cJSON_AddStringToObject(in, "resourceType", run->rtype);
            cJSON_AddStringToObject(in, "resource", run->rname);
        }
    }

    sfn_emit(e, run, "TaskStarted", d);

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
        sfn_task_timers_cancel(run);
        sfn_err_set(&run->err, "States.TaskFailed",
                    "The task could not be started");
        sfn_emit_error(e, run, "TaskFailed", "taskFailedEventDetails",
                       run->err.error, run->err.cause, run->state);
        return SFN_R_FAIL;
    }

    return SFN_R_WAIT;
}


/*
 * The result of a Task, Parallel or Map state (owned, consumed): the size
 * check, ResultSelector, ResultPath, the exit event and the transition.
 */
static int
sfn_state_result(sfn_run_t *run, cJSON *res)
{
    cJSON              *sel;
    sfn_err_t           err;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;

    if (sfn_check_size(run, res) != 0) {
        cJSON_Delete(res);
        return SFN_R_FAIL;
    }

    if (st->result_selector) {
        memset(&err, 0, sizeof(sfn_err_t));
        sfn_env_init(&env, run, res);
        sel = sfn_tmpl_eval(st->result_selector, &env, &err);
        sfn_env_done(&env);
        cJSON_Delete(res);

        if (sel == NULL) {
            sfn_err_adopt(run, &err);
            return SFN_R_FAIL;
        }

        res = sel;
    }

    cJSON_Delete(run->eff);
    run->eff = NULL;

    if (sfn_output(run, res, 1, st->result_path, st->result_path_null) != 0)
    {
        return SFN_R_FAIL;
    }

    sfn_emit_state(run, "Exited", run->input);

    return sfn_transition(run, st->next);
}


static int
sfn_task_done(sfn_run_t *run)
{
    cJSON       *res, *d, *in;
    sfn_exec_t  *e;

    e = run->e;
    res = run->result;
    run->result = NULL;

    d = NULL;
    if (sfn_events(e)) {
        d = sfn_details("taskSucceededEventDetails", &in);
        if (d) {
            cJSON_AddStringToObject(in, "resourceType", run->rtype);
            cJSON_AddStringToObject(in, "resource", run->rname);
            sfn_details_payload(in, "output", "outputDetails", res);
        }
    }

    sfn_emit(e, run, "TaskSucceeded", d);

    return sfn_state_result(run, res);
}


/* Parallel and Map */


sfn_run_t *
sfn_run_new(sfn_exec_t *e, sfn_run_t *parent, const sfn_graph_t *g,
    cJSON *input, size_t index)
{
    sfn_run_t  *run;

    run = calloc(1, sizeof(sfn_run_t));
    if (run == NULL) {
        cJSON_Delete(input);
        return NULL;
    }

    run->e = e;
    run->parent = parent;
    run->graph = g;
    run->state = g->start;
    run->input = input;
    run->index = index;
    run->prev_id = parent ? parent->prev_id : 0;

    if (parent) {
        run->sib_next = parent->kids;
        if (parent->kids) {
            parent->kids->sib_prev = run;
        }
        parent->kids = run;
        parent->active++;
    }

    return run;
}


static void
sfn_run_unlink(sfn_run_t *run)
{
    sfn_run_t  *p;

    p = run->parent;
    if (p == NULL) {
        return;
    }

    if (run->sib_prev) {
        run->sib_prev->sib_next = run->sib_next;
    } else {
        p->kids = run->sib_next;
    }

    if (run->sib_next) {
        run->sib_next->sib_prev = run->sib_prev;
    }

    run->sib_prev = run->sib_next = NULL;
    run->parent = NULL;
    p->active--;
}


static void
sfn_children_reset(sfn_run_t *run)
{
    size_t  i;

    if (run->results) {
        for (i = 0; i < run->total; i++) {
            cJSON_Delete(run->results[i]);
        }
        free(run->results);
        run->results = NULL;
    }

    free(run->items);
    run->items = NULL;

    if (run->batches) {
        for (i = 0; i < run->total; i++) {
            cJSON_Delete(run->batches[i]);
        }
        free(run->batches);
        run->batches = NULL;
    }

    run->total = run->started = run->finished = run->failed = 0;
    sfn_err_clear(&run->child_err);
    run->child_failed = 0;
}


static int
sfn_map_batches(sfn_run_t *run, const cJSON *arr)
{
    int64_t             max_items, max_bytes;
    size_t              n, nb, size, isz;
    cJSON              *batch, *items, *in, *c;
    sfn_err_t           err;
    sfn_env_t           env;
    const cJSON        *it;
    const sfn_state_t  *st;

    st = run->state;
    max_items = st->batch_max_items;
    max_bytes = st->batch_max_bytes;

    if (st->batch_max_items_path
        && sfn_path_int(run, st->batch_max_items_path, run->eff,
                        "MaxItemsPerBatchPath", &max_items, NULL) != 0)
    {
        return -1;
    }

    if (st->batch_max_bytes_path
        && sfn_path_int(run, st->batch_max_bytes_path, run->eff,
                        "MaxInputBytesPerBatchPath", &max_bytes, NULL) != 0)
    {
        return -1;
    }

    if (max_bytes <= 0 || max_bytes > SFN_MAX_PAYLOAD) {
        max_bytes = SFN_MAX_PAYLOAD;
    }

    n = cJSON_GetArraySize(arr);
    run->batches = calloc(n ? n : 1, sizeof(cJSON *));
    if (run->batches == NULL) {
        return -1;
    }

    in = NULL;
    if (st->batch_input) {
        memset(&err, 0, sizeof(sfn_err_t));
        sfn_env_init(&env, run, run->eff);
        in = sfn_tmpl_eval(st->batch_input, &env, &err);
        sfn_env_done(&env);
        if (in == NULL) {
            sfn_err_adopt(run, &err);
            return -1;
        }
    }

    nb = 0;
    batch = NULL;
    items = NULL;
    size = 0;

    cJSON_ArrayForEach(it, arr) {
        isz = sfn_json_size(it) + 1;

        if (batch == NULL
            || (max_items && cJSON_GetArraySize(items) >= max_items)
            || (size + isz > (size_t) max_bytes
                && cJSON_GetArraySize(items) > 0))
        {
            batch = cJSON_CreateObject();
            items = cJSON_CreateArray();
            if (batch == NULL || items == NULL) {
                cJSON_Delete(batch);
                cJSON_Delete(items);
                cJSON_Delete(in);
                return -1;
            }

            if (in) {
                cJSON_AddItemToObject(batch, "BatchInput",
                                      cJSON_Duplicate(in, 1));
            }

            cJSON_AddItemToObject(batch, "Items", items);
            run->batches[nb++] = batch;
            size = 0;
        }

        c = cJSON_Duplicate(it, 1);
        if (c == NULL) {
            cJSON_Delete(in);
            return -1;
        }

        cJSON_AddItemToArray(items, c);
        size += isz;
    }

    cJSON_Delete(in);
    run->total = nb;

    return 0;
}


static int
sfn_parallel_start(sfn_run_t *run)
{
    sfn_emit_simple(run, "ParallelStateStarted");

    run->total = run->state->nbranches;
    run->results = calloc(run->total, sizeof(cJSON *));
    if (run->results == NULL) {
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return SFN_R_FAIL;
    }

    return sfn_children_start(run);
}


static int
sfn_map_start(sfn_run_t *run)
{
    int                 owned;
    size_t              n, i;
    cJSON              *arr, *d, *in;
    sfn_env_t           env;
    const cJSON        *c;
    const sfn_state_t  *st;

    st = run->state;

    arr = run->eff;

    if (st->items_path) {
        sfn_env_init(&env, run, run->eff);

        if (sfn_path_eval(st->items_path, &env, &arr, &owned) != 0) {
            sfn_env_done(&env);
            sfn_runtime(run, "States.Runtime",
                        "Invalid path '%s' : No results for path: %s",
                        sfn_path_text(st->items_path),
                        sfn_path_text(st->items_path));
            return SFN_R_FAIL;
        }

        sfn_env_done(&env);

        if (owned) {
            /* only length() yields a new value from a reference path */
            cJSON_Delete(arr);
            arr = NULL;
        }
    }

    if (!cJSON_IsArray(arr)) {
        sfn_runtime(run, "States.Runtime",
                    "Invalid path '%s': The ItemsPath field's value must "
                    "be a JSON array, found %s",
                    st->items_path ? sfn_path_text(st->items_path) : "$",
                    arr ? sfn_json_type_name(arr) : "number");
        return SFN_R_FAIL;
    }

    run->max_conc = st->max_concurrency;
    run->tol_count = st->tolerated_count;
    run->tol_pct = st->tolerated_pct;

    if (st->max_concurrency_path
        && sfn_path_int(run, st->max_concurrency_path, run->input,
                        "MaxConcurrencyPath", &run->max_conc, NULL) != 0)
    {
        return SFN_R_FAIL;
    }

    if (st->tolerated_count_path
        && sfn_path_int(run, st->tolerated_count_path, run->input,
                        "ToleratedFailureCountPath", &run->tol_count, NULL)
           != 0)
    {
        return SFN_R_FAIL;
    }

    if (st->tolerated_pct_path
        && sfn_path_int(run, st->tolerated_pct_path, run->input,
                        "ToleratedFailurePercentagePath", NULL,
                        &run->tol_pct) != 0)
    {
        return SFN_R_FAIL;
    }

    if (st->batching) {
        if (sfn_map_batches(run, arr) != 0) {
            if (run->err.error == NULL) {
                sfn_err_set(&run->err, "States.Runtime", "out of memory");
            }
            return SFN_R_FAIL;
        }

    } else {
        n = cJSON_GetArraySize(arr);
        run->items = calloc(n ? n : 1, sizeof(cJSON *));
        if (run->items == NULL) {
            sfn_err_set(&run->err, "States.Runtime", "out of memory");
            return SFN_R_FAIL;
        }

        i = 0;
        cJSON_ArrayForEach(c, arr) {
            run->items[i++] = c;
        }

        run->total = n;
    }

    run->results = calloc(run->total ? run->total : 1, sizeof(cJSON *));
    if (run->results == NULL) {
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return SFN_R_FAIL;
    }

    d = NULL;
    if (sfn_events(run->e)) {
        d = sfn_details("mapStateStartedEventDetails", &in);
        if (d) {
            cJSON_AddNumberToObject(in, "length", (double) run->total);
        }
    }

    sfn_emit(run->e, run, "MapStateStarted", d);

    return sfn_children_start(run);
}


/* the input of iteration i */
static cJSON *
sfn_map_item_input(sfn_run_t *run, size_t i)
{
    cJSON      *v;
    sfn_err_t   err;
    sfn_env_t   env;

    if (run->batches) {
        v = run->batches[i];
        run->batches[i] = NULL;

    } else {
        v = (cJSON *) run->items[i];
    }

    if (run->state->item_selector == NULL) {
        return run->batches ? v : cJSON_Duplicate(v, 1);
    }

    run->map_item = v;
    run->map_index = i;

    memset(&err, 0, sizeof(sfn_err_t));
    sfn_env_init(&env, run, run->eff);

    v = sfn_tmpl_eval(run->state->item_selector, &env, &err);
    sfn_env_done(&env);

    if (run->batches) {
        cJSON_Delete((cJSON *) run->map_item);
    }

    run->map_item = NULL;

    if (v == NULL) {
        sfn_err_adopt(run, &err);
    }

    return v;
}


static int
sfn_children_start(sfn_run_t *run)
{
    size_t              limit;
    cJSON              *in;
    sfn_run_t          *kid;
    const sfn_state_t  *st;

    st = run->state;

    if (st->type == SFN_ST_PARALLEL) {
        for ( /* void */ ; run->started < run->total; run->started++) {
            in = cJSON_Duplicate(run->eff, 1);
            kid = in ? sfn_run_new(run->e, run, st->branches[run->started],
                                   in, run->started)
                     : NULL;
            if (kid == NULL) {
                sfn_err_set(&run->err, "States.Runtime", "out of memory");
                return SFN_R_FAIL;
            }

            sfn_enqueue(kid, SFN_A_ENTER);
        }

        return SFN_R_WAIT;
    }

    limit = run->max_conc > 0 ? (size_t) run->max_conc : (size_t) -1;

    while (run->started < run->total && (size_t) run->active < limit) {
        in = sfn_map_item_input(run, run->started);
        if (in == NULL) {
            if (run->err.error == NULL) {
                sfn_err_set(&run->err, "States.Runtime", "out of memory");
            }
            return SFN_R_FAIL;
        }

        sfn_emit_iteration(run, "MapIterationStarted", run->started);

        kid = sfn_run_new(run->e, run, st->iterator, in, run->started);
        if (kid == NULL) {
            sfn_err_set(&run->err, "States.Runtime", "out of memory");
            return SFN_R_FAIL;
        }

        run->started++;
        sfn_enqueue(kid, SFN_A_ENTER);
    }

    if (run->total == 0) {
        return sfn_children_check(run);
    }

    return SFN_R_WAIT;
}


/* a child run ended: record it in its parent and wake the parent */
static void
sfn_child_done(sfn_run_t *kid, cJSON *output)
{
    sfn_run_t  *p;
    cJSON      *o;

    p = kid->parent;

    /* the parent's next event follows the child's last one */
    p->prev_id = kid->prev_id;

    if (p->state->type == SFN_ST_MAP) {
        sfn_emit_iteration(p, output ? "MapIterationSucceeded"
                                     : "MapIterationFailed", kid->index);
    }

    if (output) {
        p->results[kid->index] = output;

    } else {
        p->failed++;

        if (!p->child_failed) {
            p->child_failed = 1;
            p->child_err.error = sfn_strdup(kid->err.error);
            p->child_err.cause = sfn_strdup(kid->err.cause);
        }

        o = cJSON_CreateObject();
        if (o) {
            if (kid->err.error) {
                cJSON_AddStringToObject(o, "Error", kid->err.error);
            }
            if (kid->err.cause) {
                cJSON_AddStringToObject(o, "Cause", kid->err.cause);
            }
        }
        p->results[kid->index] = o;
    }

    p->finished++;
    sfn_run_unlink(kid);
    sfn_enqueue(p, SFN_A_CHILDREN);
}


static int
sfn_map_tolerated(sfn_run_t *run)
{
    if (run->tol_count < 0 && run->tol_pct < 0) {
        return 0;
    }

    if (run->tol_count >= 0 && (int64_t) run->failed > run->tol_count) {
        return 0;
    }

    if (run->tol_pct >= 0 && run->total
        && (double) run->failed * 100.0 / (double) run->total > run->tol_pct)
    {
        return 0;
    }

    return 1;
}


static int
sfn_children_check(sfn_run_t *run)
{
    int                 rc;
    size_t              i;
    cJSON              *arr;
    sfn_run_t          *kid;
    const sfn_state_t  *st;

    st = run->state;

    if (run->child_failed
        && (st->type == SFN_ST_PARALLEL || !sfn_map_tolerated(run)))
    {
        while ((kid = run->kids) != NULL) {
            if (st->type == SFN_ST_MAP) {
                sfn_emit_iteration(run, "MapIterationAborted", kid->index);
            }
            sfn_run_abort(kid, 0);
        }

        sfn_emit_simple(run, st->type == SFN_ST_MAP ? "MapStateFailed"
                                                    : "ParallelStateFailed");

        if (st->type == SFN_ST_MAP
            && (run->tol_count >= 0 || run->tol_pct >= 0 || st->distributed))
        {
            sfn_err_set(&run->err, "States.ExceedToleratedFailureThreshold",
                        "The specified tolerated failure threshold was "
                        "exceeded");

        } else {
            sfn_err_move(&run->err, &run->child_err);
        }

        sfn_children_reset(run);

        return SFN_R_FAIL;
    }

    if (st->type == SFN_ST_MAP && run->started < run->total) {
        rc = sfn_children_start(run);
        if (rc != SFN_R_WAIT) {
            return rc;
        }
    }

    if (run->finished < run->total) {
        return SFN_R_WAIT;
    }

    sfn_emit_simple(run, st->type == SFN_ST_MAP ? "MapStateSucceeded"
                                                : "ParallelStateSucceeded");

    arr = cJSON_CreateArray();
    if (arr == NULL) {
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return SFN_R_FAIL;
    }

    /* link the results in order: O(n), unlike n appends */
    for (i = 0; i < run->total; i++) {
        if (run->results[i] == NULL) {
            run->results[i] = cJSON_CreateNull();
        }

        run->results[i]->prev = i ? run->results[i - 1] : NULL;
        run->results[i]->next = NULL;
        if (i) {
            run->results[i - 1]->next = run->results[i];
        }
    }

    if (run->total) {
        arr->child = run->results[0];
        arr->child->prev = run->results[run->total - 1];
    }

    free(run->results);
    run->results = NULL;
    sfn_children_reset(run);

    return sfn_state_result(run, arr);
}


/* Retry and Catch */


static int
sfn_error_matches(const char **errs, size_t n, const char *error)
{
    size_t  i;
    int     terminal;

    if (error == NULL) {
        error = "";
    }

    terminal = strcmp(error, "States.DataLimitExceeded") == 0
               || strcmp(error, "States.Runtime") == 0;

    for (i = 0; i < n; i++) {
        if (strcmp(errs[i], error) == 0) {
            return 1;
        }

        if (terminal) {
            continue;
        }

        if (strcmp(errs[i], "States.ALL") == 0) {
            return 1;
        }

        if (strcmp(errs[i], "States.TaskFailed") == 0
            && strcmp(error, "States.Timeout") != 0)
        {
            return 1;
        }
    }

    return 0;
}


static int
sfn_state_error(sfn_run_t *run)
{
    size_t               i;
    double               delay;
    cJSON               *o;
    int64_t              due;
    uint64_t             r;
    sfn_exec_t          *e;
    sfn_retrier_t       *rt;
    sfn_catcher_t       *ct;
    const sfn_state_t   *st;

    e = run->e;
    st = run->state;

    if (run->err.error && strcmp(run->err.error, "States.Runtime") == 0) {
        return sfn_run_failed(run);
    }

    for (i = 0; i < st->nretriers; i++) {
        rt = &st->retriers[i];

        if (!sfn_error_matches(rt->errors, rt->nerrors, run->err.error)) {
            continue;
        }

        if (run->retries[i] >= rt->max_attempts) {
            break;
        }

        delay = rt->interval * pow(rt->backoff, run->retries[i]);

        if (rt->max_delay > 0 && delay > rt->max_delay) {
            delay = rt->max_delay;
        }

        if (rt->jitter_full) {
            sfn_random(e, &r, sizeof(r));
            delay = delay * ((double) (r >> 11) / 9007199254740992.0);
        }

        run->retries[i]++;
        run->retry_total++;

        due = e->host.now_ms(e->host.data) + (int64_t) llround(delay * 1000);

        run->timer_id = ++e->next_id;
        run->timer_kind = SFN_W_RETRY;
        run->timer_due = due;

        if (sfn_slot_add(e, run->timer_id, run, SFN_W_RETRY) != 0
            || e->host.arm_timer(e->host.data, e, run->timer_id, due)
               != SFN_OK)
        {
            sfn_slot_del(e, run->timer_id);
            run->timer_id = 0;
            break;
        }

        sfn_err_clear(&run->err);

        return SFN_R_WAIT;
    }

    for (i = 0; i < st->ncatchers; i++) {
        ct = &st->catchers[i];

        if (!sfn_error_matches(ct->errors, ct->nerrors, run->err.error)) {
            continue;
        }

        o = cJSON_CreateObject();
        if (o == NULL) {
            break;
        }

        if (run->err.error) {
            cJSON_AddStringToObject(o, "Error", run->err.error);
        }
        if (run->err.cause) {
            cJSON_AddStringToObject(o, "Cause", run->err.cause);
        }

        cJSON_Delete(run->eff);
        run->eff = NULL;

        if (sfn_output_catch(run, o, ct) != 0) {
            return sfn_run_failed(run);
        }

        sfn_err_clear(&run->err);
        run->state = ct->next;

        return SFN_R_NEXT;
    }

    return sfn_run_failed(run);
}


/* the catcher's ResultPath on the state's input; OutputPath is not used */
int
sfn_output_catch(sfn_run_t *run, cJSON *o, const sfn_catcher_t *ct)
{
    char   *in;
    cJSON  *raw;

    if (ct->result_path_null) {
        cJSON_Delete(o);
        return 0;
    }

    if (ct->result_path == NULL) {
        cJSON_Delete(run->input);
        run->input = o;
        return 0;
    }

    raw = run->input;

    if (sfn_path_set(ct->result_path, &raw, o) != 0) {
        in = sfn_json_print(raw);
        sfn_err_set(&run->err, "States.ResultPathMatchFailure",
                    "Unable to apply ReferencePath %s to input %s",
                    sfn_path_text(ct->result_path), in ? in : "");
        free(in);
        cJSON_Delete(o);
        return -1;
    }

    run->input = raw;

    return 0;
}


/* the run ends in failure: tell the parent, or fail the execution */
static int
sfn_run_failed(sfn_run_t *run)
{
    sfn_exec_t  *e;

    e = run->e;

    if (run->parent) {
        sfn_child_done(run, NULL);
        sfn_run_free(run);
        return SFN_R_DONE;
    }

    sfn_exec_finish(e, SFN_FAILED, NULL, run->err.error, run->err.cause);

    return SFN_R_DONE;
}


static int
sfn_run_succeeded(sfn_run_t *run)
{
    cJSON  *out;

    out = run->input;
    run->input = NULL;

    if (run->parent) {
        sfn_child_done(run, out);
        sfn_run_free(run);
        return SFN_R_DONE;
    }

    sfn_exec_finish(run->e, SFN_SUCCEEDED, out, NULL, NULL);

    return SFN_R_DONE;
}


/* entering a state */
static int
sfn_state_enter(sfn_run_t *run)
{
    size_t              n;
    unsigned           *r;
    sfn_exec_t         *e;
    const sfn_state_t  *st;

    e = run->e;
    st = run->state;

    run->entered_ms = e->host.now_ms(e->host.data);
    run->retry_total = 0;

    n = st->nretriers;
    if (n) {
        if (n > run->nretries) {
            r = realloc(run->retries, n * sizeof(unsigned));
            if (r == NULL) {
                sfn_err_set(&run->err, "States.Runtime", "out of memory");
                return SFN_R_FAIL;
            }
            run->retries = r;
            run->nretries = n;
        }
        memset(run->retries, 0, n * sizeof(unsigned));
    }

    sfn_emit_state(run, "Entered", run->input);

    switch (st->type) {

    case SFN_ST_PASS:
        return sfn_pass(run);

    case SFN_ST_CHOICE:
        return sfn_choice(run);

    case SFN_ST_SUCCEED:
        return sfn_succeed(run);

    case SFN_ST_FAIL:
        return sfn_fail(run);

    case SFN_ST_WAIT:
        return sfn_wait(run);

    case SFN_ST_TASK:
        return sfn_task(run);

    case SFN_ST_PARALLEL:
    case SFN_ST_MAP:
        if (sfn_effective(run) != 0) {
            return SFN_R_FAIL;
        }

        return st->type == SFN_ST_MAP ? sfn_map_start(run)
                                      : sfn_parallel_start(run);
    }

    return SFN_R_FAIL;
}


static int
sfn_yield_due(sfn_exec_t *e)
{
    if (e->host.yield != NULL) {
        return e->host.yield(e->host.data);
    }

    return ++e->burst > SFN_BURST;
}


static int
sfn_yield(sfn_run_t *run)
{
    sfn_exec_t  *e;

    e = run->e;
    run->timer_id = ++e->next_id;
    run->timer_kind = SFN_W_YIELD;
    run->timer_due = e->host.now_ms(e->host.data);

    if (sfn_slot_add(e, run->timer_id, run, SFN_W_YIELD) != 0
        || e->host.arm_timer(e->host.data, e, run->timer_id,
                             e->host.now_ms(e->host.data)) != SFN_OK)
    {
        sfn_slot_del(e, run->timer_id);
        run->timer_id = 0;
        return -1;
    }

    return 0;
}


/*
 * Runs states while they complete synchronously.  Returns SFN_R_WAIT or
 * SFN_R_DONE; after SFN_R_DONE a child run has been freed.
 */
static int
sfn_run_loop(sfn_run_t *run, int rc)
{
    for ( ;; ) {
        switch (rc) {

        case SFN_R_NEXT:
            if (run->e->status != SFN_RUNNING) {
                return SFN_R_DONE;
            }

            if (run->e->history_full) {
                /* sfn_drain() ends the execution */
                return SFN_R_WAIT;
            }

            if (sfn_yield_due(run->e) && sfn_yield(run) == 0) {
                return SFN_R_WAIT;
            }

            rc = sfn_state_enter(run);
            continue;

        case SFN_R_END:
            return sfn_run_succeeded(run);

        case SFN_R_FAIL:
            rc = sfn_state_error(run);
            continue;

        default:
            return rc;
        }
    }
}


static int
sfn_run_states(sfn_run_t *run)
{
    int           rc;
    sfn_action_e  action;

    /* cleared first: a task answered from inside run_task sets it again */
    action = run->action;
    run->action = SFN_A_NONE;

    switch (action) {

    case SFN_A_ENTER:
        rc = SFN_R_NEXT;
        break;

    case SFN_A_TASK_OK:
        rc = sfn_task_done(run);
        break;

    case SFN_A_FAIL:
        rc = SFN_R_FAIL;
        break;

    case SFN_A_WAIT_DONE:
        rc = sfn_wait_done(run);
        break;

    case SFN_A_RETRY:
        /* an attempt processes its input again: $$.State.RetryCount moved */
        run->timer_id = 0;
        cJSON_Delete(run->eff);
        run->eff = NULL;

        if (run->state->type == SFN_ST_TASK) {
            rc = sfn_task(run);

        } else if (sfn_effective(run) != 0) {
            rc = SFN_R_FAIL;

        } else {
            rc = run->state->type == SFN_ST_MAP ? sfn_map_start(run)
                                                : sfn_parallel_start(run);
        }
        break;

    case SFN_A_CHILDREN:
        rc = sfn_children_check(run);
        break;

    default:
        return SFN_R_WAIT;
    }

    return sfn_run_loop(run, rc);
}


void
sfn_drain(sfn_exec_t *e)
{
    sfn_run_t  *run;

    if (e->busy) {
        return;
    }

    e->busy = 1;
    e->burst = 0;

    while ((run = sfn_dequeue(e)) != NULL) {
        if (run->dead) {
            sfn_run_free(run);
            continue;
        }

        if (e->status != SFN_RUNNING) {
            continue;
        }

        sfn_run_states(run);

        if (e->history_full) {
            break;
        }
    }

    if (e->history_full && e->status == SFN_RUNNING) {
        sfn_exec_finish(e, SFN_FAILED, NULL, "States.Runtime",
                        "The execution reached the maximum number of "
                        "history events (25000).");

        while ((run = sfn_dequeue(e)) != NULL) {
            if (run->dead) {
                sfn_run_free(run);
            }
        }
    }

    e->busy = 0;

    if (e->status != SFN_RUNNING && !e->notified) {
        e->notified = 1;
        if (e->host.finished) {
            e->host.finished(e->host.data, e);
        }
    }
}


/* aborting: cancel what the run waits for, then free it */


static void
sfn_run_cancel_waits(sfn_run_t *run)
{
    sfn_exec_t  *e;

    e = run->e;

    if (run->task_id) {
        sfn_slot_del(e, run->task_id);
        if (e->host.cancel_task) {
            e->host.cancel_task(e->host.data, e, run->task_id);
        }
        run->task_id = 0;
    }

    if (run->timer_id) {
        sfn_slot_del(e, run->timer_id);
        e->host.cancel_timer(e->host.data, e, run->timer_id);
        run->timer_id = 0;
    }

    sfn_task_timers_cancel(run);
}


static void
sfn_run_abort(sfn_run_t *run, int emit)
{
    sfn_run_t  *kid;

    while ((kid = run->kids) != NULL) {
        sfn_run_abort(kid, emit);
    }

    sfn_run_cancel_waits(run);
    sfn_run_unlink(run);

    if (run->queued) {
        run->dead = 1;
        return;
    }

    if (run != run->e->main) {
        sfn_run_free(run);
    }
}


void
sfn_run_free(sfn_run_t *run)
{
    sfn_run_t  *kid;

    while ((kid = run->kids) != NULL) {
        sfn_run_abort(kid, 0);
    }

    sfn_run_unlink(run);

    cJSON_Delete(run->input);
    cJSON_Delete(run->eff);
    cJSON_Delete(run->result);
    sfn_children_reset(run);
    sfn_err_clear(&run->err);
    sfn_err_clear(&run->child_err);
    free(run->retries);
    free(run->token);
    free(run->rtype);
    free(run->rname);

    if (run == run->e->main) {
        run->e->main = NULL;
    }

    free(run);
}


static void
sfn_exec_finish(sfn_exec_t *e, sfn_status_e status, cJSON *output,
    const char *error, const char *cause)
{
    cJSON       *d, *in;
    const char  *type, *field;

    if (e->status != SFN_RUNNING) {
        cJSON_Delete(output);
        return;
    }

    if (status == SFN_SUCCEEDED) {
        /* printed when the host asks for it: sfn_exec_output() */
        e->output_size = sfn_json_size(output);

        if (e->output_size > SFN_MAX_PAYLOAD) {
            cJSON_Delete(output);
            output = NULL;
            status = SFN_FAILED;
            error = "States.DataLimitExceeded";
            cause = "The execution output exceeds the maximum number of "
                    "bytes service limit.";
        }
    }

    e->status = status;

    if (status == SFN_SUCCEEDED && !sfn_events(e)) {
        e->output_tree = output;
        output = NULL;
    }

    e->error = sfn_strdup(error);
    e->cause = sfn_strdup(cause);

    if (e->main) {
        sfn_run_t  *m = e->main;

        while (m->kids) {
            sfn_run_abort(m->kids, 0);
        }
        sfn_run_cancel_waits(m);
    }

    if (e->exec_timer_id) {
        sfn_slot_del(e, e->exec_timer_id);
        e->host.cancel_timer(e->host.data, e, e->exec_timer_id);
        e->exec_timer_id = 0;
    }

    d = NULL;

    switch (status) {

    case SFN_SUCCEEDED:
        if (sfn_events(e)) {
            d = sfn_details("executionSucceededEventDetails", &in);
            if (d) {
                e->output = sfn_json_print(output);
                cJSON_AddStringToObject(in, "output",
                                        e->output ? e->output : "null");
                in = cJSON_AddObjectToObject(in, "outputDetails");
                if (in) {
                    cJSON_AddFalseToObject(in, "truncated");
                }
            }
        }

        if (e->output == NULL && output) {
            e->output = sfn_json_print(output);
        }

        sfn_emit(e, e->main, "ExecutionSucceeded", d);
        break;

    default:
        type = status == SFN_FAILED ? "ExecutionFailed"
               : (status == SFN_TIMED_OUT ? "ExecutionTimedOut"
                                          : "ExecutionAborted");
        field = status == SFN_FAILED ? "executionFailedEventDetails"
                : (status == SFN_TIMED_OUT ? "executionTimedOutEventDetails"
                                           : "executionAbortedEventDetails");
        sfn_emit_error(e, e->main, type, field, error, cause, NULL);
    }

    cJSON_Delete(output);
}


/* public interface */


sfn_exec_t *
sfn_exec_create(const sfn_machine_t *m, const sfn_host_t *host,
    const sfn_exec_conf_t *conf, const char *input, size_t len,
    const char **error, const char **cause)
{
    char        *p, **dst[5];
    cJSON       *in;
    size_t       size, lens[5], i;
    sfn_exec_t  *e;
    const char  *strs[5];

    *error = NULL;
    *cause = NULL;

    if (len > SFN_MAX_PAYLOAD) {
        *error = "States.DataLimitExceeded";
        *cause = "The execution input exceeds the maximum number of bytes "
                 "service limit.";
        return NULL;
    }

    e = calloc(1, sizeof(sfn_exec_t));
    if (e == NULL) {
        *error = "States.Runtime";
        *cause = "out of memory";
        return NULL;
    }

    e->m = m;
    e->host = *host;
    e->type = conf->type;

    /* the identity and the input text in one block */
    strs[0] = conf->name ? conf->name : "execution";
    strs[1] = conf->arn ? conf->arn : "";
    strs[2] = conf->role_arn ? conf->role_arn : "";
    strs[3] = conf->state_machine_name ? conf->state_machine_name : "";
    strs[4] = conf->state_machine_arn ? conf->state_machine_arn : "";

    size = len + 1;
    for (i = 0; i < 5; i++) {
        lens[i] = strlen(strs[i]);
        size += lens[i] + 1;
    }

    e->strings = malloc(size);

    if (e->strings == NULL) {
        sfn_exec_free(e);
        *error = "States.Runtime";
        *cause = "out of memory";
        return NULL;
    }

    p = e->strings;
    dst[0] = &e->name;
    dst[1] = &e->arn;
    dst[2] = &e->role_arn;
    dst[3] = &e->sm_name;
    dst[4] = &e->sm_arn;

    for (i = 0; i < 5; i++) {
        *dst[i] = p;
        memcpy(p, strs[i], lens[i] + 1);
        p += lens[i] + 1;
    }

    e->input_text = p;
    memcpy(p, input, len);
    p[len] = '\0';

    /* parsed from our NUL-terminated copy: no second copy */
    in = sfn_json_parse_text(e->input_text, len, 1);

    if (in == NULL) {
        sfn_exec_free(e);
        *error = "InvalidExecutionInput";
        *cause = "The execution input is not valid JSON";
        return NULL;
    }

    e->first = in;

    e->start_ms = conf->start_ms ? conf->start_ms
                                 : host->now_ms(host->data);

    return e;
}


void
sfn_exec_free(sfn_exec_t *e)
{
    sfn_run_t  *run;

    if (e == NULL) {
        return;
    }

    if (e->exec_timer_id) {
        sfn_slot_del(e, e->exec_timer_id);
        e->host.cancel_timer(e->host.data, e, e->exec_timer_id);
        e->exec_timer_id = 0;
    }

    if (e->main) {
        while (e->main->kids) {
            sfn_run_abort(e->main->kids, 0);
        }

        sfn_run_cancel_waits(e->main);

        if (e->main->queued) {
            e->main->dead = 1;
        } else {
            sfn_run_free(e->main);
        }
    }

    while ((run = sfn_dequeue(e)) != NULL) {
        sfn_run_free(run);
    }

    cJSON_Delete(e->input);
    cJSON_Delete(e->first);

    free(e->slots);
    free(e->strings);
    free(e->output);
    cJSON_Delete(e->output_tree);
    free(e->error);
    free(e->cause);
    free(e);
}


void *
sfn_exec_get_data(const sfn_exec_t *e)
{
    return e->data;
}


void
sfn_exec_set_data(sfn_exec_t *e, void *data)
{
    e->data = data;
}


/*
 * The execution's own time limit: the machine's TimeoutSeconds, and for an
 * Express execution at most AWS's five minutes.  0: none.
 */
int64_t
sfn_exec_timeout_ms(const sfn_exec_t *e)
{
    int64_t  ms;

    ms = e->m->timeout_ms;

    if (e->type == SFN_EXPRESS && (ms == 0 || ms > SFN_EXPRESS_MAX_MS)) {
        ms = SFN_EXPRESS_MAX_MS;
    }

    return ms;
}


sfn_status_e
sfn_exec_start(sfn_exec_t *e)
{
    char       *s;
    cJSON      *d, *in, *copy;
    sfn_run_t  *run;

    if (e->started) {
        return e->status;
    }

    e->started = 1;

    d = NULL;
    if (sfn_events(e)) {
        d = sfn_details("executionStartedEventDetails", &in);
        if (d) {
            s = sfn_json_print(e->first);
            cJSON_AddStringToObject(in, "input", s ? s : e->input_text);
            free(s);
            in = cJSON_AddObjectToObject(in, "inputDetails");
            if (in) {
                cJSON_AddFalseToObject(in, "truncated");
            }
            in = cJSON_GetObjectItemCaseSensitive(d,
                                             "executionStartedEventDetails");
            cJSON_AddStringToObject(in, "roleArn", e->role_arn);
        }
    }

    sfn_emit(e, NULL, "ExecutionStarted", d);

    copy = e->first;
    e->first = NULL;
    run = copy ? sfn_run_new(e, NULL, e->m->main, copy, 0) : NULL;

    if (run == NULL) {
        sfn_exec_finish(e, SFN_FAILED, NULL, "States.Runtime",
                        "out of memory");
        return e->status;
    }

    run->prev_id = e->event_id;
    e->main = run;

    if (sfn_exec_timeout_ms(e)) {
        e->exec_timer_id = ++e->next_id;
        if (sfn_slot_add(e, e->exec_timer_id, run, SFN_W_EXEC_TIMEOUT) != 0
            || e->host.arm_timer(e->host.data, e, e->exec_timer_id,
                                 e->start_ms + sfn_exec_timeout_ms(e))
               != SFN_OK)
        {
            sfn_slot_del(e, e->exec_timer_id);
            e->exec_timer_id = 0;
        }
    }

    sfn_enqueue(run, SFN_A_ENTER);
    sfn_drain(e);

    return e->status;
}


sfn_status_e
sfn_exec_task_succeeded(sfn_exec_t *e, uint64_t id, const char *output,
    size_t len)
{
    cJSON       *res;
    sfn_run_t   *run;
    sfn_slot_t  *s;

    s = sfn_slot_find(e, id);
    if (s == NULL || s->kind != SFN_W_TASK || e->status != SFN_RUNNING) {
        return e->status;
    }

    run = s->run;
    sfn_slot_del(e, id);
    run->task_id = 0;
    sfn_task_timers_cancel(run);

    /* a task that returns nothing returns null */
    res = (output == NULL || len == 0) ? cJSON_CreateNull()
                                       : sfn_json_parse(output, len);

    if (res == NULL) {
        sfn_err_set(&run->err, "States.Runtime",
                    "The task returned an output that is not valid JSON");
        sfn_emit_error(e, run, "TaskFailed", "taskFailedEventDetails",
                       run->err.error, run->err.cause, run->state);
        sfn_enqueue(run, SFN_A_FAIL);

    } else {
        cJSON_Delete(run->result);
        run->result = res;
        sfn_enqueue(run, SFN_A_TASK_OK);
    }

    sfn_drain(e);

    return e->status;
}


sfn_status_e
sfn_exec_task_failed(sfn_exec_t *e, uint64_t id, const char *error,
    const char *cause)
{
    sfn_run_t   *run;
    sfn_slot_t  *s;

    s = sfn_slot_find(e, id);
    if (s == NULL || s->kind != SFN_W_TASK || e->status != SFN_RUNNING) {
        return e->status;
    }

    run = s->run;
    sfn_slot_del(e, id);
    run->task_id = 0;
    sfn_task_timers_cancel(run);

    sfn_err_set(&run->err, error ? error : "States.TaskFailed", NULL);
    run->err.cause = sfn_strdup(cause);

    sfn_emit_error(e, run, "TaskFailed", "taskFailedEventDetails",
                   run->err.error, run->err.cause, run->state);

    sfn_enqueue(run, SFN_A_FAIL);
    sfn_drain(e);

    return e->status;
}


sfn_status_e
sfn_exec_task_heartbeat(sfn_exec_t *e, uint64_t id)
{
    sfn_run_t   *run;
    sfn_slot_t  *s;

    s = sfn_slot_find(e, id);
    if (s == NULL || s->kind != SFN_W_TASK || e->status != SFN_RUNNING) {
        return e->status;
    }

    run = s->run;

    if (run->hb_id) {
        run->hb_due = e->host.now_ms(e->host.data) + run->heartbeat_ms;
        e->host.arm_timer(e->host.data, e, run->hb_id, run->hb_due);
    }

    return e->status;
}


sfn_status_e
sfn_exec_timer(sfn_exec_t *e, uint64_t id)
{
    int          kind;
    sfn_run_t   *run;
    sfn_slot_t  *s;

    s = sfn_slot_find(e, id);
    if (s == NULL || e->status != SFN_RUNNING) {
        return e->status;
    }

    run = s->run;
    kind = s->kind;
    sfn_slot_del(e, id);

    switch (kind) {

    case SFN_W_WAIT:
        run->timer_id = 0;
        sfn_enqueue(run, SFN_A_WAIT_DONE);
        break;

    case SFN_W_RETRY:
        sfn_enqueue(run, SFN_A_RETRY);
        break;

    case SFN_W_YIELD:
        run->timer_id = 0;
        sfn_enqueue(run, SFN_A_ENTER);
        break;

    case SFN_W_TIMEOUT:
    case SFN_W_HEARTBEAT:
        if (kind == SFN_W_TIMEOUT) {
            run->timeout_id = 0;
        } else {
            run->hb_id = 0;
        }

        if (run->task_id) {
            sfn_slot_del(e, run->task_id);
            if (e->host.cancel_task) {
                e->host.cancel_task(e->host.data, e, run->task_id);
            }
            run->task_id = 0;
        }

        sfn_task_timers_cancel(run);

        if (kind == SFN_W_TIMEOUT) {
            sfn_err_set(&run->err, "States.Timeout",
                        "Task timed out after %lld seconds",
                        (long long) (run->timeout_ms / 1000));
        } else {
            sfn_err_set(&run->err, "States.HeartbeatTimeout",
                        "Task heartbeat timed out after %lld seconds",
                        (long long) (run->heartbeat_ms / 1000));
        }

        sfn_emit_error(e, run, "TaskTimedOut", "taskTimedOutEventDetails",
                       run->err.error, run->err.cause, run->state);

        sfn_enqueue(run, SFN_A_FAIL);
        break;

    case SFN_W_EXEC_TIMEOUT:
        e->exec_timer_id = 0;
        sfn_exec_finish(e, SFN_TIMED_OUT, NULL, "States.Timeout",
                        sfn_exec_timeout_ms(e) != e->m->timeout_ms
                        ? "The execution reached the maximum duration of "
                          "an Express execution (5 minutes)"
                        : "The execution timed out");
        break;
    }

    sfn_drain(e);

    return e->status;
}


sfn_status_e
sfn_exec_stop(sfn_exec_t *e, const char *error, const char *cause)
{
    if (e->status != SFN_RUNNING) {
        return e->status;
    }

    sfn_exec_finish(e, SFN_ABORTED, NULL, error, cause);
    sfn_drain(e);

    return e->status;
}


sfn_status_e
sfn_exec_status(const sfn_exec_t *e)
{
    return e->status;
}


const char *
sfn_exec_current_state(const sfn_exec_t *e)
{
    if (e->main == NULL || e->status != SFN_RUNNING) {
        return NULL;
    }

    return e->main->state->name;
}


const char *
sfn_exec_output(const sfn_exec_t *e)
{
    sfn_exec_t  *w;

    if (e->output == NULL && e->output_tree) {
        /* a cache: one thread steps an execution at a time */
        w = (sfn_exec_t *) e;
        w->output = sfn_json_print_sized(w->output_tree, w->output_size);
        cJSON_Delete(w->output_tree);
        w->output_tree = NULL;
    }

    return e->output;
}


const char *
sfn_exec_error(const sfn_exec_t *e)
{
    return e->error;
}


const char *
sfn_exec_cause(const sfn_exec_t *e)
{
    return e->cause;
}


const char *
sfn_status_name(sfn_status_e status)
{
    switch (status) {
    case SFN_RUNNING:   return "RUNNING";
    case SFN_SUCCEEDED: return "SUCCEEDED";
    case SFN_FAILED:    return "FAILED";
    case SFN_TIMED_OUT: return "TIMED_OUT";
    case SFN_ABORTED:   return "ABORTED";
    }

    return "UNKNOWN";
}
