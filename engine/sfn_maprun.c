
/*
 * Copyright (C) ngx_sfn authors
 *
 * A distributed Map's engine side: what its fields evaluate to, handed to
 * the host as a map run (sfn_host_t.map_run), the input of each child
 * (ItemSelector), and the map run's answer with its MapRun* events.  The
 * state waits for its map run as a Task waits for its task: by id, in a
 * slot of kind SFN_W_TASK, so that stops cancel it and a restored
 * execution asks the host for it again.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"
#include "sfn_exec.h"


typedef struct {
    cJSON                *reader;
    cJSON                *writer;
    cJSON                *batch_input;
} sfn_maprun_own_t;


static void
sfn_maprun_own_free(sfn_maprun_own_t *own)
{
    cJSON_Delete(own->reader);
    cJSON_Delete(own->writer);
    cJSON_Delete(own->batch_input);
}


/* Parameters (JSONPath) or Arguments (JSONata) of ItemReader/ResultWriter */

static cJSON *
sfn_maprun_params(sfn_run_t *run, const sfn_tmpl_t *t, const sfn_qtmpl_t *q)
{
    cJSON      *v;
    sfn_err_t   err;
    sfn_env_t   env;

    if (q) {
        v = sfn_query_eval(run, q, run->input, NULL, NULL);
        if (v && !cJSON_IsObject(v)) {
            sfn_query_type_error(run, q, "object", v);
            cJSON_Delete(v);
            return NULL;
        }
        return v;
    }

    memset(&err, 0, sizeof(sfn_err_t));
    sfn_env_init(&env, run, run->eff);
    v = sfn_tmpl_eval(t, &env, &err);
    sfn_env_done(&env);

    if (v == NULL) {
        sfn_err_adopt(run, &err);
    }

    return v;
}


static cJSON *
sfn_maprun_io(sfn_run_t *run, const char *resource, const sfn_tmpl_t *t,
    const sfn_qtmpl_t *q, const cJSON *config, const char *config_name)
{
    cJSON  *io, *p, *c;

    if (resource == NULL) {
        /* a ResultWriter of WriterConfig alone */
        p = cJSON_CreateObject();

    } else {
        p = sfn_maprun_params(run, t, q);
        if (p == NULL) {
            return NULL;
        }
    }

    io = cJSON_CreateObject();
    c = config ? cJSON_Duplicate(config, 1) : cJSON_CreateObject();

    if (io == NULL || c == NULL || p == NULL) {
        cJSON_Delete(io);
        cJSON_Delete(c);
        cJSON_Delete(p);
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return NULL;
    }

    if (resource) {
        cJSON_AddStringToObject(io, "Resource", resource);
    }

    cJSON_AddItemToObject(io, "Parameters", p);
    cJSON_AddItemToObject(io, config_name, c);

    return io;
}


static int
sfn_maprun_request(sfn_run_t *run, const cJSON *items, sfn_map_req_t *req,
    sfn_maprun_own_t *own)
{
    int64_t             n;
    cJSON              *rc;
    sfn_err_t           err;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;

    memset(req, 0, sizeof(sfn_map_req_t));
    memset(own, 0, sizeof(sfn_maprun_own_t));

    req->state = st->name;
    req->label = st->label ? st->label : st->name;
    req->processor = st->processor;
    req->type = st->express ? SFN_EXPRESS : SFN_STANDARD;
    req->items = items;
    req->max_concurrency = run->max_conc;
    req->tolerated_count = run->tol_count;
    req->tolerated_pct = run->tol_pct;

    if (st->reader_resource) {
        own->reader = sfn_maprun_io(run, st->reader_resource,
                                    st->reader_params, st->q_reader_args,
                                    st->reader_config, "ReaderConfig");
        if (own->reader == NULL) {
            return -1;
        }

        if (st->reader_max_items_path) {
            if (sfn_io_path_int(run, st->reader_max_items_path, run->eff,
                                "MaxItemsPath", &n, NULL) != 0)
            {
                return -1;
            }

            rc = cJSON_GetObjectItemCaseSensitive(own->reader,
                                                  "ReaderConfig");
            cJSON_DeleteItemFromObjectCaseSensitive(rc, "MaxItemsPath");
            cJSON_DeleteItemFromObjectCaseSensitive(rc, "MaxItems");
            cJSON_AddNumberToObject(rc, "MaxItems", (double) n);
        }

        req->reader = own->reader;
    }

    if (st->writer_resource || st->writer_config) {
        own->writer = sfn_maprun_io(run, st->writer_resource,
                                    st->writer_params, st->q_writer_args,
                                    st->writer_config, "WriterConfig");
        if (own->writer == NULL) {
            return -1;
        }

        req->writer = own->writer;
    }

    if (st->batching) {
        req->batching = 1;
        req->batch_items = st->batch_max_items;
        req->batch_bytes = st->batch_max_bytes;

        if (st->batch_max_items_path
            && sfn_io_path_int(run, st->batch_max_items_path, run->eff,
                               "MaxItemsPerBatchPath", &req->batch_items,
                               NULL) != 0)
        {
            return -1;
        }

        if (st->batch_max_bytes_path
            && sfn_io_path_int(run, st->batch_max_bytes_path, run->eff,
                               "MaxInputBytesPerBatchPath",
                               &req->batch_bytes, NULL) != 0)
        {
            return -1;
        }

        if (req->batch_bytes <= 0 || req->batch_bytes > SFN_MAX_PAYLOAD) {
            req->batch_bytes = SFN_MAX_PAYLOAD;
        }

        if (st->batch_input) {
            memset(&err, 0, sizeof(sfn_err_t));
            sfn_env_init(&env, run, run->eff);
            own->batch_input = sfn_tmpl_eval(st->batch_input, &env, &err);
            sfn_env_done(&env);

            if (own->batch_input == NULL) {
                sfn_err_adopt(run, &err);
                return -1;
            }

            req->batch_input = own->batch_input;
        }
    }

    return 0;
}


static cJSON *
sfn_maprun_arn_details(const char *field, const char *arn)
{
    cJSON  *d, *in;

    d = sfn_details(field, &in);
    if (d) {
        cJSON_AddStringToObject(in, "mapRunArn", arn);
    }

    return d;
}


/* the Map state entered, its fields evaluated: the map run starts */

int
sfn_maprun_start(sfn_run_t *run, const cJSON *items)
{
    int               rc;
    char              arn[512];
    cJSON            *d;
    uint64_t          id;
    sfn_exec_t       *e;
    sfn_map_req_t     req;
    sfn_maprun_own_t  own;

    e = run->e;

    if (sfn_maprun_request(run, items, &req, &own) != 0) {
        sfn_maprun_own_free(&own);
        if (run->err.error == NULL) {
            sfn_err_set(&run->err, "States.Runtime", "out of memory");
        }
        return SFN_R_FAIL;
    }

    id = ++e->next_id;
    run->task_id = id;

    if (sfn_slot_add(e, id, run, SFN_W_TASK) != 0) {
        sfn_maprun_own_free(&own);
        run->task_id = 0;
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return SFN_R_FAIL;
    }

    req.id = id;
    arn[0] = '\0';

    rc = e->host.map_run(e->host.data, e, &req, arn, sizeof(arn));

    sfn_maprun_own_free(&own);

    if (rc < 0) {
        sfn_slot_del(e, id);
        run->task_id = 0;
        sfn_err_set(&run->err, "States.Runtime",
                    "The map run could not be started");
        return SFN_R_FAIL;
    }

    if (rc > 0) {
        /* the map run of a redriven execution, redriven rc times */

        d = sfn_history_on(e)
            ? sfn_maprun_arn_details("mapRunRedrivenEventDetails", arn)
            : NULL;
        if (d) {
            cJSON_AddNumberToObject(d->child, "redriveCount", rc);
        }

        sfn_emit(e, run, "MapRunRedriven", d);

        return SFN_R_WAIT;
    }

    sfn_emit(e, run, "MapRunStarted",
             sfn_history_on(e)
             ? sfn_maprun_arn_details("mapRunStartedEventDetails", arn)
             : NULL);

    return SFN_R_WAIT;
}


/* sfn_exec_restore(): the host is asked for the map run again */

int
sfn_maprun_resume(sfn_run_t *run)
{
    int                 rc;
    char                arn[512];
    cJSON              *items;
    sfn_exec_t         *e;
    sfn_map_req_t       req;
    sfn_maprun_own_t    own;

    e = run->e;
    items = NULL;

    if (run->state->reader_resource == NULL) {
        items = sfn_map_items(run);
        if (items == NULL) {
            return -1;
        }
    }

    if (sfn_maprun_request(run, items, &req, &own) != 0) {
        sfn_maprun_own_free(&own);
        return -1;
    }

    req.id = run->task_id;
    req.resumed = 1;

    rc = e->host.map_run(e->host.data, e, &req, arn, sizeof(arn));

    sfn_maprun_own_free(&own);

    return rc >= 0 ? 0 : -1;
}


cJSON *
sfn_exec_map_item(sfn_exec_t *e, uint64_t id, cJSON *item, size_t index,
    char **error, char **cause)
{
    cJSON       *v;
    sfn_run_t   *run;
    sfn_err_t    err;
    sfn_env_t    env;
    sfn_slot_t  *s;

    *error = NULL;
    *cause = NULL;

    s = sfn_slot_find(e, id);
    if (s == NULL || s->kind != SFN_W_TASK
        || s->run->state->type != SFN_ST_MAP)
    {
        cJSON_Delete(item);
        *error = sfn_strdup("States.Runtime");
        *cause = sfn_strdup("The map run is over");
        return NULL;
    }

    run = s->run;

    if (run->state->q_item_selector == NULL
        && run->state->item_selector == NULL)
    {
        return item;
    }

    run->map_item = item;
    run->map_index = index;

    if (run->state->q_item_selector) {
        v = sfn_query_eval(run, run->state->q_item_selector, run->input,
                           NULL, NULL);

    } else {
        memset(&err, 0, sizeof(sfn_err_t));
        sfn_env_init(&env, run, run->eff);
        v = sfn_tmpl_eval(run->state->item_selector, &env, &err);
        sfn_env_done(&env);

        if (v == NULL) {
            sfn_err_adopt(run, &err);
        }
    }

    run->map_item = NULL;
    cJSON_Delete(item);

    if (v == NULL) {
        *error = sfn_strdup(run->err.error ? run->err.error
                                           : "States.Runtime");
        *cause = sfn_strdup(run->err.cause);
        sfn_err_clear(&run->err);
    }

    return v;
}


static sfn_run_t *
sfn_maprun_answered(sfn_exec_t *e, uint64_t id)
{
    sfn_run_t   *run;
    sfn_slot_t  *s;

    s = sfn_slot_find(e, id);
    if (s == NULL || s->kind != SFN_W_TASK || e->status != SFN_RUNNING
        || s->run->state->type != SFN_ST_MAP)
    {
        return NULL;
    }

    run = s->run;
    sfn_slot_del(e, id);
    run->task_id = 0;

    return run;
}


sfn_status_e
sfn_exec_map_run_succeeded(sfn_exec_t *e, uint64_t id, const char *output,
    size_t len)
{
    cJSON      *res;
    sfn_run_t  *run;

    run = sfn_maprun_answered(e, id);
    if (run == NULL) {
        return e->status;
    }

    res = sfn_json_parse(output, len);

    if (res == NULL) {
        sfn_err_set(&run->err, "States.Runtime",
                    "The map run's result is not valid JSON");
        sfn_emit_error(e, run, "MapRunFailed", "mapRunFailedEventDetails",
                       run->err.error, run->err.cause, NULL);
        sfn_emit_simple(run, "MapStateFailed");
        sfn_enqueue(run, SFN_A_FAIL);

    } else {
        sfn_emit(e, run, "MapRunSucceeded", NULL);
        cJSON_Delete(run->result);
        run->result = res;
        sfn_enqueue(run, SFN_A_TASK_OK);
    }

    sfn_drain(e);

    return e->status;
}


sfn_status_e
sfn_exec_map_run_failed(sfn_exec_t *e, uint64_t id, const char *error,
    const char *cause)
{
    sfn_run_t  *run;

    run = sfn_maprun_answered(e, id);
    if (run == NULL) {
        return e->status;
    }

    sfn_err_set(&run->err, error ? error : "States.Runtime", NULL);
    run->err.cause = sfn_strdup(cause);

    sfn_emit_error(e, run, "MapRunFailed", "mapRunFailedEventDetails",
                   run->err.error, run->err.cause, NULL);
    sfn_emit_simple(run, "MapStateFailed");

    sfn_enqueue(run, SFN_A_FAIL);
    sfn_drain(e);

    return e->status;
}


/* SFN_A_TASK_OK of a distributed Map: its map run's result */

int
sfn_maprun_result(sfn_run_t *run)
{
    cJSON  *res;

    res = run->result;
    run->result = NULL;

    sfn_emit_simple(run, "MapStateSucceeded");

    return sfn_state_result(run, res);
}
