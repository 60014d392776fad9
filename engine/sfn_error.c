
/*
 * Copyright (C) ngx_sfn authors
 *
 * Errors of a state: States.Runtime causes, error-name matching, Retry
 * and Catch.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_core.h"
#include "sfn_exec.h"


void
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
void
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


int
sfn_state_error(sfn_run_t *run)
{
    int                  rc;
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

    /* what the failed state would have assigned is dropped */
    cJSON_Delete(run->assigned);
    run->assigned = NULL;

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

        if (st->jsonata) {
            /* $states.errorOutput; the output is the catcher's Output */
            rc = sfn_query_output(run, NULL, o, ct->qassign, ct->output);
            cJSON_Delete(o);

        } else if (ct->assign && sfn_vars_assign(run, ct->assign, o) != 0) {
            cJSON_Delete(o);
            rc = -1;

        } else {
            rc = sfn_io_output_catch(run, o, ct);
        }

        if (rc != 0) {
            return sfn_run_failed(run);
        }

        sfn_vars_commit(run);
        sfn_err_clear(&run->err);
        run->state = ct->next;

        return SFN_R_NEXT;
    }

    return sfn_run_failed(run);
}
