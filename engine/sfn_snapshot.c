
/*
 * Copyright (C) ngx_sfn authors
 *
 * Snapshots of executions, for durable (Standard) executions that must
 * survive a restart: the run tree with its payloads, retry counters, ids
 * and due times, as JSON text.  Restoring re-registers the same ids and
 * asks the host to re-arm timers and re-run tasks that were in flight.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"
#include "sfn_exec.h"


#define SFN_SNAPSHOT_VERSION  1


static void
sfn_snap_str(cJSON *o, const char *name, const char *s)
{
    if (s) {
        cJSON_AddStringToObject(o, name, s);
    }
}


static void
sfn_snap_num(cJSON *o, const char *name, double v)
{
    if (v != 0) {
        cJSON_AddNumberToObject(o, name, v);
    }
}


static void
sfn_snap_json(cJSON *o, const char *name, const cJSON *v)
{
    if (v) {
        cJSON_AddItemToObject(o, name, cJSON_Duplicate(v, 1));
    }
}


/* the Parallel or Map state whose branch or iterator g is */
static const sfn_state_t *
sfn_snap_owner(const sfn_graph_t *root, const sfn_graph_t *g, size_t *branch)
{
    size_t              i, k;
    const sfn_state_t  *st, *r;

    for (i = 0; i < root->nstates; i++) {
        st = root->states[i];

        for (k = 0; k < st->nbranches; k++) {
            if (st->branches[k] == g) {
                *branch = k;
                return st;
            }

            r = sfn_snap_owner(st->branches[k], g, branch);
            if (r) {
                return r;
            }
        }

        if (st->iterator) {
            if (st->iterator == g) {
                *branch = 0;
                return st;
            }

            r = sfn_snap_owner(st->iterator, g, branch);
            if (r) {
                return r;
            }
        }
    }

    return NULL;
}


static cJSON *
sfn_snap_run(const sfn_exec_t *e, const sfn_run_t *run)
{
    size_t              i, branch;
    cJSON              *o, *a, *c;
    const sfn_run_t    *kid;
    const sfn_state_t  *owner;

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    if (run->graph != e->m->main) {
        owner = sfn_snap_owner(e->m->main, run->graph, &branch);
        if (owner) {
            cJSON_AddStringToObject(o, "owner", owner->name);
            cJSON_AddNumberToObject(o, "branch", (double) branch);
        }
    }

    cJSON_AddStringToObject(o, "state", run->state->name);
    cJSON_AddNumberToObject(o, "index", (double) run->index);
    sfn_snap_json(o, "input", run->input);
    sfn_snap_json(o, "eff", run->eff);
    sfn_snap_json(o, "vars", run->vars);
    sfn_snap_json(o, "items", run->items_own);
    sfn_snap_str(o, "error", run->err.error);
    sfn_snap_str(o, "cause", run->err.cause);
    sfn_snap_num(o, "enteredMs", (double) run->entered_ms);
    sfn_snap_num(o, "enteredId", (double) run->entered_id);
    sfn_snap_num(o, "prevId", (double) run->prev_id);
    sfn_snap_num(o, "retryTotal", run->retry_total);
    sfn_snap_num(o, "taskId", (double) run->task_id);
    sfn_snap_num(o, "timerId", (double) run->timer_id);
    sfn_snap_num(o, "timerKind", run->timer_kind);
    sfn_snap_num(o, "timerDue", (double) run->timer_due);
    sfn_snap_num(o, "timeoutId", (double) run->timeout_id);
    sfn_snap_num(o, "timeoutDue", (double) run->timeout_due);
    sfn_snap_num(o, "hbId", (double) run->hb_id);
    sfn_snap_num(o, "hbDue", (double) run->hb_due);
    sfn_snap_num(o, "timeoutMs", (double) run->timeout_ms);
    sfn_snap_num(o, "heartbeatMs", (double) run->heartbeat_ms);
    sfn_snap_str(o, "token", run->token);

    if (run->nretries) {
        a = cJSON_AddArrayToObject(o, "retries");
        for (i = 0; a && i < run->nretries; i++) {
            cJSON_AddItemToArray(a, cJSON_CreateNumber(run->retries[i]));
        }
    }

    if (run->results) {
        cJSON_AddNumberToObject(o, "total", (double) run->total);
        cJSON_AddNumberToObject(o, "started", (double) run->started);
        cJSON_AddNumberToObject(o, "finished", (double) run->finished);
        cJSON_AddNumberToObject(o, "failed", (double) run->failed);
        cJSON_AddNumberToObject(o, "maxConcurrency", (double) run->max_conc);
        cJSON_AddNumberToObject(o, "toleratedCount", (double) run->tol_count);
        cJSON_AddNumberToObject(o, "toleratedPct", run->tol_pct);
        sfn_snap_str(o, "childError", run->child_err.error);
        sfn_snap_str(o, "childCause", run->child_err.cause);
        if (run->child_failed) {
            cJSON_AddTrueToObject(o, "childFailed");
        }

        /* [value] for a finished slot, null for one still open */
        a = cJSON_AddArrayToObject(o, "results");
        for (i = 0; a && i < run->total; i++) {
            if (run->results[i]) {
                c = cJSON_CreateArray();
                if (c) {
                    cJSON_AddItemToArray(c,
                                         cJSON_Duplicate(run->results[i], 1));
                }
            } else {
                c = cJSON_CreateNull();
            }
            cJSON_AddItemToArray(a, c);
        }

        if (run->batches) {
            a = cJSON_AddArrayToObject(o, "batches");
            for (i = 0; a && i < run->total; i++) {
                cJSON_AddItemToArray(a, run->batches[i]
                                        ? cJSON_Duplicate(run->batches[i], 1)
                                        : cJSON_CreateNull());
            }
        }

        a = cJSON_AddArrayToObject(o, "kids");
        for (kid = run->kids; a && kid; kid = kid->sib_next) {
            c = sfn_snap_run(e, kid);
            if (c == NULL) {
                cJSON_Delete(o);
                return NULL;
            }
            cJSON_AddItemToArray(a, c);
        }
    }

    return o;
}


char *
sfn_exec_snapshot(const sfn_exec_t *e)
{
    char   *s;
    cJSON  *o, *r;

    if (e->qhead || e->busy) {
        /* only between events */
        return NULL;
    }

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    cJSON_AddNumberToObject(o, "version", SFN_SNAPSHOT_VERSION);
    cJSON_AddStringToObject(o, "startAt", e->m->main->start->name);
    cJSON_AddStringToObject(o, "name", e->name);
    cJSON_AddStringToObject(o, "arn", e->arn);
    cJSON_AddStringToObject(o, "roleArn", e->role_arn);
    cJSON_AddStringToObject(o, "stateMachineName", e->sm_name);
    cJSON_AddStringToObject(o, "stateMachineArn", e->sm_arn);
    cJSON_AddNumberToObject(o, "type", e->type);
    cJSON_AddNumberToObject(o, "startMs", (double) e->start_ms);
    cJSON_AddItemToObject(o, "input", sfn_json_parse(e->input_text,
                                                     strlen(e->input_text)));
    cJSON_AddNumberToObject(o, "status", e->status);
    sfn_snap_str(o, "output", sfn_exec_output(e));
    sfn_snap_str(o, "error", e->error);
    sfn_snap_str(o, "cause", e->cause);
    cJSON_AddNumberToObject(o, "eventId", (double) e->event_id);
    cJSON_AddNumberToObject(o, "nextId", (double) e->next_id);
    sfn_snap_num(o, "execTimerId", (double) e->exec_timer_id);
    sfn_snap_num(o, "redriveCount", e->redrive_count);
    if (e->started) {
        cJSON_AddTrueToObject(o, "started");
    }

    r = sfn_mock_snapshot(e);
    if (r) {
        cJSON_AddItemToObject(o, "mockCalls", r);
    }

    if (e->main && e->status == SFN_RUNNING) {
        r = sfn_snap_run(e, e->main);
        if (r == NULL) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToObject(o, "main", r);
    }

    s = sfn_json_print(o);
    cJSON_Delete(o);

    return s;
}


/* restoring */


static double
sfn_rs_num(const cJSON *o, const char *name)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}


static cJSON *
sfn_rs_json(const cJSON *o, const char *name)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    return v ? cJSON_Duplicate(v, 1) : NULL;
}


static int
sfn_rs_run(sfn_exec_t *e, sfn_run_t *parent, const cJSON *o,
    sfn_run_t **out)
{
    size_t              i, n;
    cJSON              *input;
    sfn_run_t          *run;
    const char         *s;
    const cJSON        *a, *c;
    const sfn_graph_t  *g;
    const sfn_state_t  *owner, *st;

    if (!cJSON_IsObject(o)) {
        return -1;
    }

    g = e->m->main;
    s = sfn_json_str(o, "owner");

    if (s) {
        owner = sfn_graph_state(e->m->main, s);
        if (owner == NULL) {
            return -1;
        }

        n = (size_t) sfn_rs_num(o, "branch");

        if (owner->iterator) {
            g = owner->iterator;

        } else if (n < owner->nbranches) {
            g = owner->branches[n];

        } else {
            return -1;
        }
    }

    s = sfn_json_str(o, "state");
    st = s ? sfn_graph_state(g, s) : NULL;
    if (st == NULL) {
        return -1;
    }

    input = sfn_rs_json(o, "input");

    run = sfn_run_new(e, parent, g, input, (size_t) sfn_rs_num(o, "index"));
    if (run == NULL) {
        return -1;
    }

    *out = run;

    run->state = st;
    run->eff = sfn_rs_json(o, "eff");

    /* a snapshot of an older build has no variables */
    run->vars = sfn_rs_json(o, "vars");
    if (run->vars) {
        if (!cJSON_IsObject(run->vars)) {
            return -1;
        }

        for (c = run->vars->child; c; c = c->next) {
            run->vars_size += strlen(c->string) + sfn_json_size(c);
        }

        e->vars_size += run->vars_size;
    }

    run->items_own = sfn_rs_json(o, "items");
    run->err.error = sfn_strdup(sfn_json_str(o, "error"));
    run->err.cause = sfn_strdup(sfn_json_str(o, "cause"));
    run->entered_ms = (int64_t) sfn_rs_num(o, "enteredMs");
    run->entered_id = (int64_t) sfn_rs_num(o, "enteredId");
    run->prev_id = (int64_t) sfn_rs_num(o, "prevId");
    run->retry_total = (unsigned) sfn_rs_num(o, "retryTotal");
    run->task_id = (uint64_t) sfn_rs_num(o, "taskId");
    run->timer_id = (uint64_t) sfn_rs_num(o, "timerId");
    run->timer_kind = (sfn_wait_e) sfn_rs_num(o, "timerKind");
    run->timer_due = (int64_t) sfn_rs_num(o, "timerDue");
    run->timeout_id = (uint64_t) sfn_rs_num(o, "timeoutId");
    run->timeout_due = (int64_t) sfn_rs_num(o, "timeoutDue");
    run->hb_id = (uint64_t) sfn_rs_num(o, "hbId");
    run->hb_due = (int64_t) sfn_rs_num(o, "hbDue");
    run->timeout_ms = (int64_t) sfn_rs_num(o, "timeoutMs");
    run->heartbeat_ms = (int64_t) sfn_rs_num(o, "heartbeatMs");
    run->token = sfn_strdup(sfn_json_str(o, "token"));

    a = cJSON_GetObjectItemCaseSensitive(o, "retries");
    n = cJSON_GetArraySize(a);

    if (n) {
        if (n != st->nretriers) {
            return -1;
        }

        run->retries = calloc(n, sizeof(unsigned));
        if (run->retries == NULL) {
            return -1;
        }

        run->nretries = n;
        i = 0;
        cJSON_ArrayForEach(c, a) {
            run->retries[i++] = cJSON_IsNumber(c) ? (unsigned) c->valuedouble
                                                  : 0;
        }
    }

    a = cJSON_GetObjectItemCaseSensitive(o, "results");
    if (a == NULL) {
        return 0;
    }

    /* Parallel or Map waiting for children */
    run->total = cJSON_GetArraySize(a);
    run->started = (size_t) sfn_rs_num(o, "started");
    run->finished = (size_t) sfn_rs_num(o, "finished");
    run->failed = (size_t) sfn_rs_num(o, "failed");
    run->max_conc = (int64_t) sfn_rs_num(o, "maxConcurrency");
    run->tol_count = (int64_t) sfn_rs_num(o, "toleratedCount");
    run->tol_pct = sfn_rs_num(o, "toleratedPct");
    run->child_err.error = sfn_strdup(sfn_json_str(o, "childError"));
    run->child_err.cause = sfn_strdup(sfn_json_str(o, "childCause"));
    run->child_failed = cJSON_IsTrue(
                            cJSON_GetObjectItemCaseSensitive(o, "childFailed"));

    if (run->started > run->total || run->finished > run->total
        || (int64_t) sfn_rs_num(o, "total") != (int64_t) run->total)
    {
        return -1;
    }

    run->results = calloc(run->total ? run->total : 1, sizeof(cJSON *));
    if (run->results == NULL) {
        return -1;
    }

    i = 0;
    cJSON_ArrayForEach(c, a) {
        if (cJSON_IsArray(c) && c->child) {
            run->results[i] = cJSON_Duplicate(c->child, 1);
        }
        i++;
    }

    a = cJSON_GetObjectItemCaseSensitive(o, "batches");

    if (a) {
        if ((size_t) cJSON_GetArraySize(a) != run->total) {
            return -1;
        }

        run->batches = calloc(run->total ? run->total : 1, sizeof(cJSON *));
        if (run->batches == NULL) {
            return -1;
        }

        i = 0;
        cJSON_ArrayForEach(c, a) {
            if (!cJSON_IsNull(c)) {
                run->batches[i] = cJSON_Duplicate(c, 1);
            }
            i++;
        }

    } else if (st->type == SFN_ST_MAP) {
        /* the items are borrowed from eff or held: find them again */
        sfn_env_t   env;
        cJSON      *arr;
        int         owned;

        arr = run->items_own ? run->items_own : run->eff;

        if (st->items_path && run->items_own == NULL) {
            memset(&env, 0, sizeof(sfn_env_t));
            env.input = run->eff;

            if (run->eff == NULL
                || sfn_path_eval(st->items_path, &env, &arr, &owned) != 0)
            {
                return -1;
            }

            if (owned) {
                cJSON_Delete(arr);
                return -1;
            }
        }

        if (!cJSON_IsArray(arr)
            || (size_t) cJSON_GetArraySize(arr) != run->total)
        {
            return -1;
        }

        run->items = calloc(run->total ? run->total : 1, sizeof(cJSON *));
        if (run->items == NULL) {
            return -1;
        }

        i = 0;
        cJSON_ArrayForEach(c, arr) {
            run->items[i++] = c;
        }
    }

    a = cJSON_GetObjectItemCaseSensitive(o, "kids");

    cJSON_ArrayForEach(c, a) {
        sfn_run_t  *kid = NULL;

        if (sfn_rs_run(e, run, c, &kid) != 0) {
            return -1;
        }

        if (kid->index >= run->total) {
            return -1;
        }
    }

    return 0;
}


/* registers a run's ids and asks the host for its timers and tasks */
static int
sfn_rs_wake(sfn_exec_t *e, sfn_run_t *run)
{
    int              rc;
    sfn_run_t       *kid;
    sfn_task_req_t   req;

    for (kid = run->kids; kid; kid = kid->sib_next) {
        if (sfn_rs_wake(e, kid) != 0) {
            return -1;
        }
    }

    if (run->timer_id) {
        if (run->timer_kind < SFN_W_TASK || run->timer_kind > SFN_W_YIELD
            || sfn_slot_add(e, run->timer_id, run, run->timer_kind) != 0
            || e->host.arm_timer(e->host.data, e, run->timer_id,
                                 run->timer_due) != SFN_OK)
        {
            return -1;
        }
    }

    if (run->timeout_id) {
        if (sfn_slot_add(e, run->timeout_id, run, SFN_W_TIMEOUT) != 0
            || e->host.arm_timer(e->host.data, e, run->timeout_id,
                                 run->timeout_due) != SFN_OK)
        {
            return -1;
        }
    }

    if (run->hb_id) {
        if (sfn_slot_add(e, run->hb_id, run, SFN_W_HEARTBEAT) != 0
            || e->host.arm_timer(e->host.data, e, run->hb_id, run->hb_due)
               != SFN_OK)
        {
            return -1;
        }
    }

    if (run->task_id && run->state->type == SFN_ST_MAP) {
        if (run->eff == NULL || e->host.map_run == NULL
            || sfn_slot_add(e, run->task_id, run, SFN_W_TASK) != 0
            || sfn_maprun_resume(run) != 0)
        {
            return -1;
        }

    } else if (run->task_id) {
        if (run->state->type != SFN_ST_TASK || run->eff == NULL
            || sfn_slot_add(e, run->task_id, run, SFN_W_TASK) != 0)
        {
            return -1;
        }

        memset(&req, 0, sizeof(sfn_task_req_t));
        req.id = run->task_id;
        req.state = run->state->name;
        req.resource = run->state->resource;
        req.input = run->eff;
        req.token = run->token;
        req.timeout_ms = run->timeout_ms;
        req.heartbeat_ms = run->heartbeat_ms;
        req.attempt = run->retry_total;

        rc = e->host.run_task(e->host.data, e, &req);

        if (rc == SFN_ERROR) {
            /* answered below, once the whole tree is registered */
            run->refused = 1;
        }
    }

    return 0;
}


static void
sfn_rs_refused(sfn_exec_t *e, sfn_run_t *run)
{
    sfn_run_t  *kid, *next;

    for (kid = run->kids; kid; kid = next) {
        next = kid->sib_next;
        sfn_rs_refused(e, kid);
    }

    if (run->refused) {
        run->refused = 0;
        sfn_exec_task_failed(e, run->task_id, "States.TaskFailed",
                             "The task could not be started");
    }
}


sfn_exec_t *
sfn_exec_restore(const sfn_machine_t *m, const sfn_host_t *host,
    const sfn_mock_case_t *mock, const char *json, size_t len)
{
    cJSON            *o;
    sfn_exec_t       *e;
    const char       *error, *cause, *s;
    const cJSON      *v;
    sfn_exec_conf_t   conf;

    o = sfn_json_parse(json, len);
    if (o == NULL) {
        return NULL;
    }

    s = sfn_json_str(o, "startAt");

    if (sfn_rs_num(o, "version") != SFN_SNAPSHOT_VERSION || s == NULL
        || strcmp(s, m->main->start->name) != 0
        || cJSON_GetObjectItemCaseSensitive(o, "input") == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.name = sfn_json_str(o, "name");
    conf.arn = sfn_json_str(o, "arn");
    conf.role_arn = sfn_json_str(o, "roleArn");
    conf.state_machine_name = sfn_json_str(o, "stateMachineName");
    conf.state_machine_arn = sfn_json_str(o, "stateMachineArn");
    conf.type = sfn_rs_num(o, "type") == SFN_EXPRESS ? SFN_EXPRESS
                                                      : SFN_STANDARD;
    conf.start_ms = (int64_t) sfn_rs_num(o, "startMs");
    conf.mock = mock;

    /* the input, as text again, goes through the normal checks */
    v = cJSON_GetObjectItemCaseSensitive(o, "input");
    s = sfn_json_print(v);

    e = s ? sfn_exec_create(m, host, &conf, s, strlen(s), &error, &cause)
          : NULL;
    free((char *) s);

    if (e == NULL) {
        cJSON_Delete(o);
        return NULL;
    }

    e->status = (sfn_status_e) sfn_rs_num(o, "status");
    e->output = sfn_strdup(sfn_json_str(o, "output"));
    e->error = sfn_strdup(sfn_json_str(o, "error"));
    e->cause = sfn_strdup(sfn_json_str(o, "cause"));
    e->event_id = (int64_t) sfn_rs_num(o, "eventId");
    e->next_id = (uint64_t) sfn_rs_num(o, "nextId");
    e->exec_timer_id = (uint64_t) sfn_rs_num(o, "execTimerId");
    e->redrive_count = (unsigned) sfn_rs_num(o, "redriveCount");
    e->started = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "started"));

    if (sfn_mock_restore(e, cJSON_GetObjectItemCaseSensitive(o, "mockCalls"))
        != SFN_OK)
    {
        goto failed;
    }

    if (e->status > SFN_ABORTED) {
        goto failed;
    }

    if (e->status != SFN_RUNNING) {
        e->notified = 1;
        cJSON_Delete(o);
        return e;
    }

    v = cJSON_GetObjectItemCaseSensitive(o, "main");

    if (e->started) {
        if (v == NULL || sfn_rs_run(e, NULL, v, &e->main) != 0) {
            goto failed;
        }
    }

    cJSON_Delete(o);
    o = NULL;

    e->busy = 1;

    if (e->exec_timer_id
        && (e->main == NULL
            || sfn_slot_add(e, e->exec_timer_id, e->main,
                            SFN_W_EXEC_TIMEOUT) != 0
            || e->host.arm_timer(e->host.data, e, e->exec_timer_id,
                                 e->start_ms + sfn_exec_timeout_ms(e))
               != SFN_OK))
    {
        e->busy = 0;
        goto failed;
    }

    if (e->main && sfn_rs_wake(e, e->main) != 0) {
        e->busy = 0;
        goto failed;
    }

    e->busy = 0;

    if (e->main) {
        sfn_rs_refused(e, e->main);
    }

    sfn_drain(e);

    return e;

failed:

    cJSON_Delete(o);

    /* sfn_exec_free() cancels whatever was armed or started */
    sfn_exec_free(e);

    return NULL;
}
