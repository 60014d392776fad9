
/*
 * Copyright (C) ngx_sfn authors
 *
 * Parallel and Map: child runs per branch or iteration, item batching,
 * MaxConcurrency, tolerated failures, and the results array.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"
#include "sfn_exec.h"


static int sfn_children_start(sfn_run_t *run);


void
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
    cJSON_Delete(run->items_own);
    run->items_own = NULL;

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
        && sfn_io_path_int(run, st->batch_max_items_path, run->eff,
                           "MaxItemsPerBatchPath", &max_items, NULL) != 0)
    {
        return -1;
    }

    if (st->batch_max_bytes_path
        && sfn_io_path_int(run, st->batch_max_bytes_path, run->eff,
                           "MaxInputBytesPerBatchPath", &max_bytes, NULL) != 0)
    {
        return -1;
    }

    if (st->q_batch_max_items
        && sfn_query_int(run, st->q_batch_max_items, "MaxItemsPerBatch", 1,
                         99999999, &max_items, NULL) != 0)
    {
        return -1;
    }

    if (st->q_batch_max_bytes
        && sfn_query_int(run, st->q_batch_max_bytes, "MaxInputBytesPerBatch",
                         1, SFN_MAX_PAYLOAD, &max_bytes, NULL) != 0)
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
    if (st->q_batch_input) {
        /* JSONata: $states.input is the state's input */
        in = sfn_query_eval(run, st->q_batch_input, run->input, NULL, NULL);
        if (in == NULL) {
            return -1;
        }

    } else if (st->batch_input) {
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


int
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


/*
 * MaxConcurrencyPath (an integer), ToleratedFailureCountPath (an integer)
 * and ToleratedFailurePercentagePath (a float), read from the state input,
 * with AWS's causes.
 */

static int
sfn_map_path_number(sfn_run_t *run, const sfn_path_t *p, const char *field,
    int64_t *n, double *d)
{
    int         owned, ok;
    cJSON      *v;
    sfn_buf_t   b;
    sfn_env_t   env;

    sfn_env_init(&env, run, run->input);

    if (sfn_path_eval(p, &env, &v, &owned) != 0) {
        sfn_env_done(&env);
        memset(&b, 0, sizeof(sfn_buf_t));
        sfn_path_normalized(p, &b);
        sfn_runtime(run, "States.Runtime",
                    "Invalid path '%s' : No results for path: %s",
                    sfn_path_text(p), b.data ? b.data : "");
        sfn_buf_free(&b);
        return -1;
    }

    ok = n ? sfn_json_text_int(v, n) : sfn_json_text_double(v, d);

    if (!ok) {
        memset(&b, 0, sizeof(sfn_buf_t));
        sfn_buf_value(&b, v);
        sfn_runtime(run, "States.Runtime",
                    "The %s field refers to value \"%s\" which is not a "
                    "valid %s: %s", field, b.data ? b.data : "",
                    n ? "integer" : "float", sfn_path_text(p));
        sfn_buf_free(&b);
    }

    if (owned) {
        cJSON_Delete(v);
    }

    sfn_env_done(&env);

    return ok ? 0 : -1;
}


/*
 * The Map's items: an array in eff, or in items_own (JSONata's Items, a
 * variable's copy); NULL with the run's error set
 */
cJSON *
sfn_map_items(sfn_run_t *run)
{
    int                 owned;
    cJSON              *arr;
    sfn_buf_t           b;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;

    arr = run->eff;
    if (st->items) {
        /* JSONata: Items, an array or an expression giving one */
        cJSON_Delete(run->items_own);
        run->items_own = sfn_query_eval(run, st->items, run->input, NULL,
                                        NULL);
        if (run->items_own == NULL) {
            return NULL;
        }

        if (!cJSON_IsArray(run->items_own)) {
            sfn_query_type_error(run, st->items, "array", run->items_own);
            return NULL;
        }

        arr = run->items_own;

    } else if (st->items_path && sfn_path_var(st->items_path)) {
        /* a variable: copied, the run's scope may change under it */
        sfn_env_init(&env, run, run->eff);

        if (sfn_path_eval(st->items_path, &env, &arr, &owned) != 0) {
            sfn_env_done(&env);
            memset(&b, 0, sizeof(sfn_buf_t));
            sfn_path_normalized(st->items_path, &b);
            sfn_runtime(run, "States.Runtime",
                        "Invalid path '%s' : No results for path: %s",
                        sfn_path_text(st->items_path), b.data ? b.data : "");
            sfn_buf_free(&b);
            return NULL;
        }

        cJSON_Delete(run->items_own);
        run->items_own = sfn_io_own(arr, owned);
        arr = run->items_own;
        sfn_env_done(&env);

    } else if (st->items_path) {
        sfn_env_init(&env, run, run->eff);

        if (sfn_path_eval(st->items_path, &env, &arr, &owned) != 0) {
            sfn_env_done(&env);
            memset(&b, 0, sizeof(sfn_buf_t));
            sfn_path_normalized(st->items_path, &b);
            sfn_runtime(run, "States.Runtime",
                        "Invalid path '%s' : No results for path: %s",
                        sfn_path_text(st->items_path), b.data ? b.data : "");
            sfn_buf_free(&b);
            return NULL;
        }

        sfn_env_done(&env);

        if (owned) {
            /* only length() yields a new value from a reference path */
            cJSON_Delete(arr);
            arr = NULL;
        }
    }

    if (!cJSON_IsArray(arr)) {
        memset(&b, 0, sizeof(sfn_buf_t));
        if (arr) {
            sfn_buf_json(&b, arr);
        }
        sfn_runtime(run, "States.Runtime",
                    "Map state input must be an array but was: %s",
                    b.data ? b.data : "null");
        sfn_buf_free(&b);
        return NULL;
    }

    return arr;
}


int
sfn_map_start(sfn_run_t *run)
{
    size_t              n, i;
    cJSON              *arr, *d, *in;
    unsigned            dist;
    const cJSON        *c;
    const sfn_state_t  *st;

    st = run->state;

    /* a distributed Map with a host to run it: a map run, else inline */
    dist = st->distributed && run->e->host.map_run != NULL;

    arr = NULL;

    if (st->reader_resource == NULL) {
        arr = sfn_map_items(run);
        if (arr == NULL) {
            return SFN_R_FAIL;
        }

    } else if (!dist) {
        sfn_runtime(run, "States.ItemReaderFailed",
                    "This host reads no bucket for an ItemReader");
        return SFN_R_FAIL;
    }

    run->max_conc = st->max_concurrency;
    run->tol_count = st->tolerated_count;
    run->tol_pct = st->tolerated_pct;

    if (st->q_max_concurrency
        && sfn_query_int(run, st->q_max_concurrency, "MaxConcurrency", 0,
                         99999999, &run->max_conc, NULL) != 0)
    {
        return SFN_R_FAIL;
    }

    /* AWS reads MaxConcurrencyPath before MapStateStarted ... */
    if (st->max_concurrency_path
        && sfn_map_path_number(run, st->max_concurrency_path,
                               "MaxConcurrencyPath", &run->max_conc, NULL)
           != 0)
    {
        return SFN_R_FAIL;
    }

    if (run->max_conc < 0) {
        sfn_runtime(run, "States.Runtime", "Expected non-negative integer "
                    "for MaxConcurrency, got '%lld' instead.",
                    (long long) run->max_conc);
        return SFN_R_FAIL;
    }

    if (dist) {
        run->total = 0;

    } else if (st->batching) {
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

    if (!dist) {
        run->results = calloc(run->total ? run->total : 1, sizeof(cJSON *));
        if (run->results == NULL) {
            sfn_err_set(&run->err, "States.Runtime", "out of memory");
            return SFN_R_FAIL;
        }
    }

    d = NULL;
    if (sfn_history_on(run->e)) {
        d = sfn_details("mapStateStartedEventDetails", &in);
        if (d) {
            cJSON_AddNumberToObject(in, "length",
                                    (double) (dist ? 0 : run->total));
        }
    }

    sfn_emit(run->e, run, "MapStateStarted", d);

    if ((st->q_tolerated_count
         && sfn_query_int(run, st->q_tolerated_count, "ToleratedFailureCount",
                          0, 99999999, &run->tol_count, NULL) != 0)
        || (st->q_tolerated_pct
            && sfn_query_int(run, st->q_tolerated_pct,
                             "ToleratedFailurePercentage", 0, 100, NULL,
                             &run->tol_pct) != 0))
    {
        return SFN_R_FAIL;
    }

    /* ... and the tolerated failure paths after it */
    if (st->tolerated_count_path
        && sfn_map_path_number(run, st->tolerated_count_path,
                               "ToleratedFailureCountPath", &run->tol_count,
                               NULL) != 0)
    {
        return SFN_R_FAIL;
    }

    if (st->tolerated_count_path && run->tol_count < 0) {
        sfn_runtime(run, "States.Runtime",
                    "ToleratedFailureCount cannot be negative.");
        return SFN_R_FAIL;
    }

    if (st->tolerated_pct_path
        && sfn_map_path_number(run, st->tolerated_pct_path,
                               "ToleratedFailurePercentagePath", NULL,
                               &run->tol_pct) != 0)
    {
        return SFN_R_FAIL;
    }

    if (st->tolerated_pct_path && (run->tol_pct < 0 || run->tol_pct > 100)) {
        sfn_runtime(run, "States.Runtime",
                    "ToleratedFailurePercentage must be between 0 and 100.");
        return SFN_R_FAIL;
    }

    if (dist) {
        return sfn_maprun_start(run, arr);
    }

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

    if (run->state->q_item_selector) {
        run->map_item = v;
        run->map_index = i;

        v = sfn_query_eval(run, run->state->q_item_selector, run->input,
                           NULL, NULL);

        if (run->batches) {
            cJSON_Delete((cJSON *) run->map_item);
        }

        run->map_item = NULL;

        return v;
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
void
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


int
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
