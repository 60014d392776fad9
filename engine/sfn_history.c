
/*
 * Copyright (C) ngx_sfn authors
 *
 * History events: numbering, the Standard history limit, and the details
 * objects handed to the host's event callback.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"
#include "sfn_exec.h"


int
sfn_history_on(sfn_exec_t *e)
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


/* numbers ev, hands it to the host and links it into run's chain */
static int64_t
sfn_emit_event(sfn_exec_t *e, sfn_run_t *run, sfn_event_t *ev)
{
    int64_t  id;

    id = ++e->event_id;

    if (e->host.event) {
        ev->id = id;
        ev->previous_id = run ? run->prev_id : (id > 1 ? id - 1 : 0);
        ev->timestamp_ms = sfn_exec_now(e);

        e->host.event(e->host.data, e, ev);
    }

    if (run) {
        run->prev_id = id;
    }

    return id;
}


int64_t
sfn_emit(sfn_exec_t *e, sfn_run_t *run, const char *type, cJSON *details)
{
    int64_t      id;
    sfn_event_t  ev;

    if (sfn_history_full(e)) {
        cJSON_Delete(details);
        return e->event_id;
    }

    memset(&ev, 0, sizeof(sfn_event_t));
    ev.type = type;
    ev.details = details;

    id = sfn_emit_event(e, run, &ev);

    cJSON_Delete(details);

    return id;
}


/*
 * An event made of a name and a payload: built as AWS details only for a
 * host that does not take them lazily; a lazy one refers to the payload,
 * boxed in *shared (sfn_payload.c) so that the host may keep it.
 */

int64_t
sfn_emit_payload(sfn_exec_t *e, sfn_run_t *run, const char *type,
    const char *name, cJSON *payload, sfn_payload_t **shared,
    const cJSON *assigned)
{
    int64_t      id;
    cJSON       *d;
    sfn_event_t  ev;

    if (sfn_history_full(e)) {
        return e->event_id;
    }

    memset(&ev, 0, sizeof(sfn_event_t));
    ev.type = type;
    ev.name = name;
    ev.role_arn = run == NULL ? e->role_arn : NULL;   /* ExecutionStarted */
    ev.payload = payload;
    ev.assigned = assigned;

    d = NULL;

    if (e->host.event && (!e->lazy_events || assigned)) {
        d = sfn_event_details(&ev);
        ev.details = d;

    } else if (e->host.event && payload) {
        /* out of memory: an event the host cannot keep, but an event */
        ev.shared = sfn_payload_share(payload, shared);
    }

    id = sfn_emit_event(e, run, &ev);

    cJSON_Delete(d);

    return id;
}


/* {"mapIterationStartedEventDetails":{"name":..,"index":..}}, ... */
static cJSON *
sfn_details_iteration(const sfn_event_t *ev)
{
    char    field[64];
    cJSON  *d, *in;

    /* AWS's field: the type, first letter in lower case, "EventDetails" */
    snprintf(field, sizeof(field), "m%sEventDetails", ev->type + 1);

    d = sfn_details(field, &in);
    if (d) {
        cJSON_AddStringToObject(in, "name", ev->name);
        cJSON_AddNumberToObject(in, "index", (double) ev->index);
    }

    return d;
}


/* "assignedVariables": {"name": "<the value as JSON text>", ...} */
static void
sfn_details_assigned(cJSON *inner, const cJSON *assigned)
{
    char         *s;
    cJSON        *av, *det;
    const cJSON  *c;

    av = cJSON_AddObjectToObject(inner, "assignedVariables");

    for (c = assigned->child; av && c; c = c->next) {
        s = sfn_json_print(c);
        cJSON_AddStringToObject(av, c->string, s ? s : "null");
        free(s);
    }

    det = cJSON_AddObjectToObject(inner, "assignedVariablesDetails");
    if (det) {
        cJSON_AddFalseToObject(det, "truncated");
    }
}


cJSON *
sfn_event_details(const sfn_event_t *ev)
{
    int          entered;
    size_t       n;
    cJSON       *d, *in;

    if (ev->details) {
        return cJSON_Duplicate(ev->details, 1);
    }

    n = strlen(ev->type);

    if (strcmp(ev->type, "ExecutionStarted") == 0) {
        d = sfn_details("executionStartedEventDetails", &in);
        if (d) {
            sfn_details_payload(in, "input", "inputDetails", ev->payload);
            cJSON_AddStringToObject(in, "roleArn",
                                    ev->role_arn ? ev->role_arn : "");
        }
        return d;
    }

    if (strcmp(ev->type, "ExecutionSucceeded") == 0) {
        d = sfn_details("executionSucceededEventDetails", &in);
        if (d) {
            sfn_details_payload(in, "output", "outputDetails", ev->payload);
        }
        return d;
    }

    if (ev->name == NULL) {
        return NULL;
    }

    if (strncmp(ev->type, "MapIteration", 12) == 0) {
        return sfn_details_iteration(ev);
    }

    entered = n > 7 && strcmp(ev->type + n - 7, "Entered") == 0;

    d = sfn_details(entered ? "stateEnteredEventDetails"
                            : "stateExitedEventDetails", &in);
    if (d) {
        cJSON_AddStringToObject(in, "name", ev->name);
        if (entered) {
            sfn_details_payload(in, "input", "inputDetails", ev->payload);

        } else {
            sfn_details_payload(in, "output", "outputDetails", ev->payload);
        }

        if (ev->assigned) {
            sfn_details_assigned(in, ev->assigned);
        }
    }

    return d;
}


cJSON *
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


void
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


/* the event types of state entries and exits, by sfn_state_type_e */

static const char  *sfn_state_events[][2] = {
    { "PassStateEntered", "PassStateExited" },
    { "TaskStateEntered", "TaskStateExited" },
    { "ChoiceStateEntered", "ChoiceStateExited" },
    { "WaitStateEntered", "WaitStateExited" },
    { "SucceedStateEntered", "SucceedStateExited" },
    { "FailStateEntered", "FailStateExited" },
    { "ParallelStateEntered", "ParallelStateExited" },
    { "MapStateEntered", "MapStateExited" }
};


void
sfn_emit_state(sfn_run_t *run, const char *suffix)
{
    int  entered;

    entered = suffix[0] == 'E' && suffix[1] == 'n';

    if (!sfn_history_on(run->e)) {
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

    if (entered) {
        run->entered_id = sfn_emit_payload(run->e, run,
                              sfn_state_events[run->state->type][0],
                              run->state->name, run->input, &run->shared,
                              NULL);

    } else {
        sfn_emit_payload(run->e, run, sfn_state_events[run->state->type][1],
                         run->state->name, run->input, &run->shared,
                         run->assigned);
    }
}


void
sfn_emit_simple(sfn_run_t *run, const char *type)
{
    sfn_emit(run->e, run, type, NULL);
}


void
sfn_emit_error(sfn_exec_t *e, sfn_run_t *run, const char *type,
    const char *field, const char *error, const char *cause,
    const sfn_state_t *task)
{
    cJSON  *d, *in;
    char    atype[40], afield[64];

    d = NULL;

    /* an activity's: TaskFailed is ActivityFailed, with no resource */

    if (task && task->activity && strncmp(type, "Task", 4) == 0) {
        snprintf(atype, sizeof(atype), "Activity%s",
                 strcmp(type, "TaskStartFailed") == 0 ? "ScheduleFailed"
                                                      : type + 4);
        snprintf(afield, sizeof(afield), "a%sEventDetails", atype + 1);
        type = atype;
        field = afield;
        task = NULL;
    }

    if (sfn_history_on(e)) {
        d = sfn_details(field, &in);
        if (d) {
            if (task) {
                cJSON_AddStringToObject(in, "resourceType",
                                        task->resource_type);
                cJSON_AddStringToObject(in, "resource", task->resource_name);
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


/*
 * The events of an activity's task: scheduled (its input, its timeouts),
 * started by a worker (its workerName, if it gave one), succeeded.
 */

void
sfn_emit_activity(sfn_run_t *run, const char *what, const cJSON *payload,
    const char *worker)
{
    cJSON       *d, *in;
    char         type[32], field[48];
    sfn_exec_t  *e;

    e = run->e;
    d = NULL;

    snprintf(type, sizeof(type), "Activity%s", what);
    snprintf(field, sizeof(field), "activity%sEventDetails", what);

    if (sfn_history_on(e)) {
        d = sfn_details(field, &in);
    }

    if (d && strcmp(what, "Scheduled") == 0) {
        cJSON_AddStringToObject(in, "resource", run->state->resource);
        sfn_details_payload(in, "input", "inputDetails", payload);

        if (run->timeout_ms) {
            cJSON_AddNumberToObject(in, "timeoutInSeconds",
                                    (double) (run->timeout_ms / 1000));
        }

        if (run->heartbeat_ms) {
            cJSON_AddNumberToObject(in, "heartbeatInSeconds",
                                    (double) (run->heartbeat_ms / 1000));
        }

    } else if (d && strcmp(what, "Started") == 0) {
        if (worker && worker[0]) {
            cJSON_AddStringToObject(in, "workerName", worker);
        }

    } else if (d) {
        sfn_details_payload(in, "output", "outputDetails", payload);
    }

    sfn_emit(e, run, type, d);
}


/* type: "MapIterationStarted", "...Succeeded", "...Failed", "...Aborted" */
void
sfn_emit_iteration(sfn_run_t *parent, const char *type, size_t index)
{
    cJSON        *d;
    sfn_exec_t   *e;
    sfn_event_t   ev;

    e = parent->e;

    if (sfn_history_full(e)) {
        return;
    }

    memset(&ev, 0, sizeof(sfn_event_t));
    ev.type = type;
    ev.name = parent->state->name;
    ev.index = index;

    d = NULL;

    if (e->host.event && !e->lazy_events) {
        d = sfn_details_iteration(&ev);
        ev.details = d;
    }

    sfn_emit_event(e, parent, &ev);

    cJSON_Delete(d);
}
