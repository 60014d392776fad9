
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

#include "sfn_core.h"
#include "sfn_exec.h"


static int sfn_run_states(sfn_run_t *run);
static sfn_status_e sfn_exec_task_fail(sfn_exec_t *e, uint64_t id,
    const char *error, const char *cause, const char *type);
static void sfn_exec_finish(sfn_exec_t *e, sfn_status_e status,
    cJSON *output, sfn_payload_t *shared, const char *error,
    const char *cause);


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


sfn_slot_t *
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


void
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


void
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


/* runs: the main one, and one per Parallel branch or Map iteration */


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


void
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


/* the run ends in failure: tell the parent, or fail the execution */
int
sfn_run_failed(sfn_run_t *run)
{
    sfn_exec_t  *e;

    e = run->e;

    if (run->parent) {
        sfn_child_done(run, NULL);
        sfn_run_free(run);
        return SFN_R_DONE;
    }

    sfn_exec_finish(e, SFN_FAILED, NULL, NULL, run->err.error, run->err.cause);

    return SFN_R_DONE;
}


static int
sfn_run_succeeded(sfn_run_t *run)
{
    cJSON          *out;
    sfn_exec_t     *e;
    sfn_payload_t  *shared;

    e = run->e;

    if (run->parent) {
        /* the parent's results array links it in: its own */
        out = sfn_payload_take(run->input, &run->shared);
        if (out == NULL) {
            sfn_err_set(&run->err, "States.Runtime", "out of memory");
            return sfn_run_failed(run);
        }

        run->input = NULL;
        sfn_child_done(run, out);
        sfn_run_free(run);
        return SFN_R_DONE;
    }

    out = run->input;
    shared = run->shared;
    run->input = NULL;
    run->shared = NULL;

    sfn_exec_finish(e, SFN_SUCCEEDED, out, shared, NULL, NULL);

    return SFN_R_DONE;
}


/* the run's input becomes input (owned) */
void
sfn_run_replace_input(sfn_run_t *run, cJSON *input)
{
    sfn_payload_drop(run->input, &run->shared);
    run->input = input;
}


/* the run's input becomes p's tree, p's reference moving to the run */
void
sfn_run_replace_payload(sfn_run_t *run, sfn_payload_t *p)
{
    sfn_payload_drop(run->input, &run->shared);
    run->input = (cJSON *) sfn_payload_json(p);
    run->shared = p;
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

    run->entered_ms = sfn_exec_now(e);
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

    sfn_emit_state(run, "Entered");

    switch (st->type) {

    case SFN_ST_PASS:
        return sfn_state_pass(run);

    case SFN_ST_CHOICE:
        return sfn_state_choice(run);

    case SFN_ST_SUCCEED:
        return sfn_state_succeed(run);

    case SFN_ST_FAIL:
        return sfn_state_fail(run);

    case SFN_ST_WAIT:
        return sfn_state_wait(run);

    case SFN_ST_TASK:
        return sfn_exec_task(run);

    case SFN_ST_PARALLEL:
    case SFN_ST_MAP:
        if (sfn_io_effective(run) != 0) {
            return SFN_R_FAIL;
        }

        return st->type == SFN_ST_MAP ? sfn_map_start(run)
                                      : sfn_parallel_start(run);
    }

    return SFN_R_FAIL;
}


/*
 * The host's clock, read once for everything one entry point runs: the
 * states it enters and the events it emits happen at one instant, as in
 * a host that caches its time per event loop turn (nginx).  sfn_drain()
 * forgets it, and a yield hands the loop back before a long burst would
 * make it stale.
 */
int64_t
sfn_exec_now(sfn_exec_t *e)
{
    if (!e->now_read) {
        e->now = e->host.now_ms(e->host.data);
        e->now_read = 1;
    }

    return e->now;
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
    run->timer_due = sfn_exec_now(e);

    if (sfn_slot_add(e, run->timer_id, run, SFN_W_YIELD) != 0
        || e->host.arm_timer(e->host.data, e, run->timer_id, run->timer_due)
           != SFN_OK)
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
        rc = run->state->type == SFN_ST_MAP ? sfn_maprun_result(run)
                                            : sfn_exec_task_result(run);
        break;

    case SFN_A_FAIL:
        rc = SFN_R_FAIL;
        break;

    case SFN_A_WAIT_DONE:
        rc = sfn_state_wait_done(run);
        break;

    case SFN_A_RETRY:
        /* an attempt processes its input again: $$.State.RetryCount moved */
        run->timer_id = 0;
        cJSON_Delete(run->eff);
        run->eff = NULL;

        if (run->state->type == SFN_ST_TASK) {
            rc = sfn_exec_task(run);

        } else if (sfn_io_effective(run) != 0) {
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
        sfn_exec_finish(e, SFN_FAILED, NULL, NULL, "States.Runtime",
                        "The execution reached the maximum number of "
                        "history events (25000).");

        while ((run = sfn_dequeue(e)) != NULL) {
            if (run->dead) {
                sfn_run_free(run);
            }
        }
    }

    e->busy = 0;
    e->now_read = 0;

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
        if (run->state && run->state->type == SFN_ST_MAP) {
            sfn_emit(e, run, "MapRunAborted", NULL);
        }

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

    sfn_exec_task_timers_cancel(run);
}


void
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

    sfn_payload_drop(run->input, &run->shared);
    cJSON_Delete(run->eff);
    cJSON_Delete(run->result);
    sfn_children_reset(run);
    sfn_vars_free(run);
    sfn_err_clear(&run->err);
    sfn_err_clear(&run->child_err);
    free(run->retries);
    free(run->token);

    if (run == run->e->main) {
        run->e->main = NULL;
    }

    free(run);
}


/* output (a succeeded execution's, boxed in shared or owned) is consumed */
static void
sfn_exec_finish(sfn_exec_t *e, sfn_status_e status, cJSON *output,
    sfn_payload_t *shared, const char *error, const char *cause)
{
    cJSON       *d, *in;
    const char  *type, *field;

    if (e->status != SFN_RUNNING) {
        sfn_payload_drop(output, &shared);
        return;
    }

    if (status == SFN_SUCCEEDED) {
        /* printed when the host asks for it: sfn_exec_output() */
        e->output_size = sfn_json_size(output);

        if (e->output_size > SFN_MAX_PAYLOAD) {
            sfn_payload_drop(output, &shared);
            output = NULL;
            status = SFN_FAILED;
            error = "States.DataLimitExceeded";
            cause = "The execution output exceeds the maximum number of "
                    "bytes service limit.";
        }
    }

    e->status = status;

    /* printed when asked for, unless an eager history prints it now */
    if (status == SFN_SUCCEEDED
        && (!sfn_history_on(e) || e->lazy_events))
    {
        e->output_tree = output;
        e->output_shared = shared;
        output = NULL;
        shared = NULL;
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
        if (e->output_tree) {
            sfn_emit_payload(e, e->main, "ExecutionSucceeded", NULL,
                             e->output_tree, &e->output_shared, NULL);
            break;
        }

        if (sfn_history_on(e)) {
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

    sfn_payload_drop(output, &shared);
}


/* public interface */


sfn_exec_t *
sfn_exec_create(const sfn_machine_t *m, const sfn_host_t *host,
    const sfn_exec_conf_t *conf, const char *input, size_t len,
    const char **error, const char **cause)
{
    char        *p, **dst[5];
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
    e->lazy_events = conf->lazy_events;
    e->mock = conf->mock;

    if (conf->mock_parent && sfn_mock_share(e, conf->mock_parent) != SFN_OK) {
        free(e);
        *error = "States.Runtime";
        *cause = "out of memory";
        return NULL;
    }

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

    /* the input is read only until a state changes it: one block */
    e->first_shared = sfn_payload_parse(e->input_text, len);

    if (e->first_shared == NULL) {
        sfn_exec_free(e);
        *error = "InvalidExecutionInput";
        *cause = "The execution input is not valid JSON";
        return NULL;
    }

    e->first = (cJSON *) sfn_payload_json(e->first_shared);

    e->start_ms = conf->start_ms ? conf->start_ms
                                 : host->now_ms(host->data);

    return e;
}


sfn_exec_t *
sfn_exec_redrive(const sfn_machine_t *m, const sfn_host_t *host,
    const sfn_exec_conf_t *conf, const char *input, size_t len,
    const char *state, const char *state_input, size_t state_len,
    int64_t event_id, unsigned redrive_count, const char **error,
    const char **cause)
{
    size_t              i;
    sfn_exec_t         *e;
    sfn_payload_t      *shared;
    const sfn_state_t  *st;

    st = NULL;

    for (i = 0; i < m->main->nstates; i++) {
        if (strcmp(m->main->states[i]->name, state) == 0) {
            st = m->main->states[i];
            break;
        }
    }

    if (st == NULL || event_id < 0) {
        *error = "States.Runtime";
        *cause = "The state to redrive from is not a state of the machine";
        return NULL;
    }

    if (state_len > SFN_MAX_PAYLOAD) {
        *error = "States.DataLimitExceeded";
        *cause = "The state's input exceeds the maximum number of bytes "
                 "service limit.";
        return NULL;
    }

    e = sfn_exec_create(m, host, conf, input, len, error, cause);
    if (e == NULL) {
        return NULL;
    }

    shared = sfn_payload_parse(state_input, state_len);

    if (shared == NULL) {
        sfn_exec_free(e);
        *error = "InvalidExecutionInput";
        *cause = "The state's input is not valid JSON";
        return NULL;
    }

    /* the first run takes the state's input, not the execution's */

    sfn_payload_drop(e->first, &e->first_shared);
    e->first_shared = shared;
    e->first = (cJSON *) sfn_payload_json(shared);

    e->redrive_state = st;
    e->redrive_count = redrive_count;
    e->event_id = event_id;

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
    sfn_payload_drop(e->first, &e->first_shared);

    free(e->slots);
    sfn_mock_release(e);
    free(e->strings);
    free(e->output);
    sfn_payload_drop(e->output_tree, &e->output_shared);
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
    cJSON      *d, *in;
    sfn_run_t  *run;

    if (e->started) {
        return e->status;
    }

    e->started = 1;

    if (e->redrive_state) {
        d = sfn_details("executionRedrivenEventDetails", &in);
        if (d) {
            cJSON_AddNumberToObject(in, "redriveCount", e->redrive_count);
        }

        sfn_emit(e, NULL, "ExecutionRedriven", d);

    } else {
        sfn_emit_payload(e, NULL, "ExecutionStarted", NULL, e->first,
                         &e->first_shared, NULL);
    }

    /* the input moves to the run with its box: events may refer to it */
    run = e->first ? sfn_run_new(e, NULL, e->m->main, NULL, 0) : NULL;

    if (run) {
        run->input = e->first;
        run->shared = e->first_shared;
        e->first = NULL;
        e->first_shared = NULL;
    }

    if (run == NULL) {
        sfn_exec_finish(e, SFN_FAILED, NULL, NULL, "States.Runtime",
                        "out of memory");
        return e->status;
    }

    run->prev_id = e->event_id;
    e->main = run;

    if (e->redrive_state) {
        run->state = e->redrive_state;
    }

    /* a redriven execution's start is long past: its timeout is not armed */

    if (sfn_exec_timeout_ms(e) && e->redrive_state == NULL) {
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
    if (s == NULL || s->kind != SFN_W_TASK || e->status != SFN_RUNNING
        || s->run->state->type != SFN_ST_TASK)
    {
        return e->status;
    }

    run = s->run;
    sfn_slot_del(e, id);
    run->task_id = 0;
    sfn_exec_task_timers_cancel(run);

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
    return sfn_exec_task_fail(e, id, error, cause, "TaskFailed");
}


/* the task could not be scheduled (an activity that does not exist) */

sfn_status_e
sfn_exec_task_refused(sfn_exec_t *e, uint64_t id, const char *error,
    const char *cause)
{
    return sfn_exec_task_fail(e, id, error, cause, "TaskStartFailed");
}


/* a worker took an activity's task: it counts as a heartbeat */

sfn_status_e
sfn_exec_task_started(sfn_exec_t *e, uint64_t id, const char *worker)
{
    sfn_run_t   *run;
    sfn_slot_t  *s;

    s = sfn_slot_find(e, id);
    if (s == NULL || s->kind != SFN_W_TASK || e->status != SFN_RUNNING
        || !s->run->state->activity)
    {
        return e->status;
    }

    run = s->run;

    sfn_emit_activity(run, "Started", NULL, worker);

    return sfn_exec_task_heartbeat(e, id);
}


static sfn_status_e
sfn_exec_task_fail(sfn_exec_t *e, uint64_t id, const char *error,
    const char *cause, const char *type)
{
    sfn_run_t   *run;
    sfn_slot_t  *s;

    s = sfn_slot_find(e, id);
    if (s == NULL || s->kind != SFN_W_TASK || e->status != SFN_RUNNING
        || s->run->state->type != SFN_ST_TASK)
    {
        return e->status;
    }

    run = s->run;
    sfn_slot_del(e, id);
    run->task_id = 0;
    sfn_exec_task_timers_cancel(run);

    sfn_err_set(&run->err, error ? error : "States.TaskFailed", NULL);
    run->err.cause = sfn_strdup(cause);

    sfn_emit_error(e, run, type, strcmp(type, "TaskFailed") == 0
                                 ? "taskFailedEventDetails"
                                 : "taskStartFailedEventDetails",
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

        sfn_exec_task_timers_cancel(run);

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
        sfn_exec_finish(e, SFN_TIMED_OUT, NULL, NULL, "States.Timeout",
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

    sfn_exec_finish(e, SFN_ABORTED, NULL, NULL, error, cause);
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
        sfn_payload_drop(w->output_tree, &w->output_shared);
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
