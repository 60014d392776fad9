
/*
 * Copyright (C) ngx_sfn authors
 *
 * Variables (Assign).  A run is a scope: the main run's holds the
 * top-level states' variables, each Parallel branch and Map iteration
 * has its own, which reads the scopes around it (but a distributed Map's
 * iterations do not) and never writes them.  A state's Assign is
 * evaluated with the values of its entry and takes effect when the state
 * exits, shown on its StateExited event.  AWS's limits: 256 KiB for a
 * variable, 256 KiB for one Assign, 10 MiB for an execution.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"
#include "sfn_exec.h"


#define SFN_VAR_MAX       262144
#define SFN_ASSIGN_MAX    262144
#define SFN_VARS_MAX      (10 * 1024 * 1024)


static cJSON *
sfn_vars_find(const cJSON *scope, const char *name, size_t len)
{
    cJSON  *c;

    if (scope == NULL) {
        return NULL;
    }

    for (c = scope->child; c; c = c->next) {
        if (strncmp(c->string, name, len) == 0 && c->string[len] == '\0') {
            return c;
        }
    }

    return NULL;
}


const cJSON *
sfn_vars_get(sfn_run_t *run, const char *name, size_t len)
{
    cJSON  *v;

    for ( /* void */ ; run; run = run->parent) {
        v = sfn_vars_find(run->vars, name, len);
        if (v) {
            return v;
        }

        if (run->parent && run->parent->state->distributed) {
            break;
        }
    }

    return NULL;
}


const cJSON *
sfn_vars_env(sfn_env_t *env, const char *name, size_t len)
{
    return sfn_vars_get(env->data, name, len);
}


static size_t
sfn_vars_size(const cJSON *v)
{
    return strlen(v->string) + sfn_json_size(v);
}


/* what a state assigns (owned): checked against the limits, kept */
int
sfn_vars_set(sfn_run_t *run, cJSON *assigned)
{
    size_t        total, size, old;
    const cJSON  *c, *prev;

    total = 0;
    old = 0;

    for (c = assigned->child; c; c = c->next) {
        size = sfn_vars_size(c);

        if (size > SFN_VAR_MAX) {
            sfn_runtime(run, "States.DataLimitExceeded",
                        "The variable '%s' has a size exceeding the maximum "
                        "of %d bytes.", c->string, SFN_VAR_MAX);
            cJSON_Delete(assigned);
            return -1;
        }

        total += size;

        prev = sfn_vars_find(run->vars, c->string, strlen(c->string));
        if (prev) {
            old += sfn_vars_size(prev);
        }
    }

    if (total > SFN_ASSIGN_MAX) {
        sfn_runtime(run, "States.DataLimitExceeded",
                    "The variables assigned by the state have a combined "
                    "size exceeding the maximum of %d bytes.",
                    SFN_ASSIGN_MAX);
        cJSON_Delete(assigned);
        return -1;
    }

    if (run->e->vars_size - old + total > SFN_VARS_MAX) {
        sfn_runtime(run, "States.DataLimitExceeded",
                    "The variables of the execution have a combined size "
                    "exceeding the maximum of %d bytes.", SFN_VARS_MAX);
        cJSON_Delete(assigned);
        return -1;
    }

    cJSON_Delete(run->assigned);
    run->assigned = assigned;

    return 0;
}


/* JSONPath: Assign is a payload template, "$" the state's result */
int
sfn_vars_assign(sfn_run_t *run, const sfn_tmpl_t *t, const cJSON *input)
{
    cJSON      *a;
    sfn_err_t   err;
    sfn_env_t   env;

    memset(&err, 0, sizeof(sfn_err_t));
    sfn_env_init(&env, run, input);

    a = sfn_tmpl_eval(t, &env, &err);
    sfn_env_done(&env);

    if (a == NULL) {
        sfn_err_adopt(run, &err);
        return -1;
    }

    return sfn_vars_set(run, a);
}


int
sfn_vars_assign_query(sfn_run_t *run, const sfn_qtmpl_t *t,
    const cJSON *input, const cJSON *result, const cJSON *error_output)
{
    cJSON  *a;

    a = sfn_query_eval(run, t, input, result, error_output);
    if (a == NULL) {
        return -1;
    }

    return sfn_vars_set(run, a);
}


/* the state exits: what it assigned becomes its scope's */
void
sfn_vars_commit(sfn_run_t *run)
{
    cJSON       *c, *prev;
    sfn_exec_t  *e;

    if (run->assigned == NULL) {
        return;
    }

    e = run->e;

    if (run->vars == NULL) {
        run->vars = cJSON_CreateObject();
        if (run->vars == NULL) {
            return;
        }
    }

    while ((c = run->assigned->child) != NULL) {
        cJSON_DetachItemViaPointer(run->assigned, c);

        prev = sfn_vars_find(run->vars, c->string, strlen(c->string));
        if (prev) {
            run->vars_size -= sfn_vars_size(prev);
            e->vars_size -= sfn_vars_size(prev);
            cJSON_DetachItemViaPointer(run->vars, prev);
            cJSON_Delete(prev);
        }

        run->vars_size += sfn_vars_size(c);
        e->vars_size += sfn_vars_size(c);
        cJSON_AddItemToObject(run->vars, c->string, c);
    }

    cJSON_Delete(run->assigned);
    run->assigned = NULL;
}


void
sfn_vars_free(sfn_run_t *run)
{
    run->e->vars_size -= run->vars_size;
    run->vars_size = 0;

    cJSON_Delete(run->vars);
    cJSON_Delete(run->assigned);
    run->vars = NULL;
    run->assigned = NULL;
}


/* StateExited, with the variables the state assigned; then they apply */
void
sfn_state_exit(sfn_run_t *run)
{
    sfn_emit_state(run, "Exited");
    sfn_vars_commit(run);
}
