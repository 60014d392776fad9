
/*
 * Copyright (C) ngx_sfn authors
 *
 * Input and output processing: the context object, InputPath, Parameters,
 * ResultSelector, ResultPath and OutputPath, and integers read from paths.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"
#include "sfn_exec.h"


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
            cJSON_AddNumberToObject(x, "RedriveCount", e->redrive_count);
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


void
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


void
sfn_inspect(sfn_run_t *run, const char *stage, const cJSON *v)
{
    if (run->e->host.inspect) {
        run->e->host.inspect(run->e->host.data, run->e, stage, v);
    }
}


void
sfn_env_init(sfn_env_t *env, sfn_run_t *run, const cJSON *input)
{
    env->input = input;
    env->ctx = NULL;
    env->build_ctx = sfn_ctx_build;
    env->var = sfn_vars_env;
    env->data = run;
    env->random = sfn_random;
    env->rdata = run->e;
}


void
sfn_env_done(sfn_env_t *env)
{
    cJSON_Delete(env->ctx);
    env->ctx = NULL;
}


int
sfn_io_check_size(sfn_run_t *run, const cJSON *v)
{
    /* the bound first: formatting every number costs */
    if (v && sfn_json_size_max(v, 0) > SFN_MAX_PAYLOAD
        && sfn_json_size(v) > SFN_MAX_PAYLOAD)
    {
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
int
sfn_io_input_path(sfn_run_t *run, sfn_env_t *env, cJSON **out, int *owned)
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


cJSON *
sfn_io_own(cJSON *v, int owned)
{
    return owned ? v : cJSON_Duplicate(v, 1);
}


/*
 * ResultPath then OutputPath.  Consumes run->input and the result; puts
 * the state output into run->input.  An input that events share (see
 * sfn_payload.c) is passed on as it is, or copied before ResultPath
 * changes it.
 */
int
sfn_io_output(sfn_run_t *run, cJSON *result, int owned,
    const sfn_path_t *rp, int rp_null)
{
    int             vowned;
    char           *in;
    cJSON          *raw, *out, *v, *t;
    sfn_buf_t       b;
    sfn_env_t       env;
    sfn_payload_t  *shared;
    const sfn_state_t  *st;

    st = run->state;
    raw = run->input;
    shared = run->shared;
    run->input = NULL;
    run->shared = NULL;

    sfn_inspect(run, "result", result);

    if (rp_null) {
        if (owned) {
            cJSON_Delete(result);
        }
        out = raw;

    } else if (rp == NULL) {
        if (owned) {
            out = result;
            sfn_payload_drop(raw, &shared);

        } else if (result == raw) {
            out = raw;

        } else {
            out = cJSON_Duplicate(result, 1);
            sfn_payload_drop(raw, &shared);
        }

    } else {
        v = sfn_io_own(result, owned);
        t = v ? sfn_payload_take(raw, &shared) : NULL;

        if (t) {
            raw = t;
        }

        if (t == NULL || sfn_path_set(rp, &raw, v) != 0) {
            in = raw ? sfn_json_print(raw) : NULL;
            sfn_err_set(&run->err, "States.ResultPathMatchFailure",
                        "Unable to apply ReferencePath %s to input %s",
                        sfn_path_text(rp), in ? in : "");
            free(in);
            cJSON_Delete(v);
            run->input = raw;
            run->shared = shared;
            return -1;
        }

        out = raw;
    }

    if (out == NULL) {
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return -1;
    }

    sfn_inspect(run, "afterResultPath", out);

    if (st->output_path_null) {
        sfn_payload_drop(out, &shared);
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
            run->shared = shared;
            return -1;
        }

        if (v != out) {
            v = sfn_io_own(v, vowned);
            sfn_payload_drop(out, &shared);
            out = v;
        }

        sfn_env_done(&env);
    }

    run->input = out;
    run->shared = shared;

    return 0;
}


/* the effective input of Task, Parallel and Map: InputPath, Parameters */
int
sfn_io_effective(sfn_run_t *run)
{
    int                 owned;
    cJSON              *eff, *res;
    sfn_err_t           err;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;

    if (st->jsonata) {
        /* Arguments, or the input */
        run->eff = st->arguments
                   ? sfn_query_eval(run, st->arguments, run->input, NULL,
                                    NULL)
                   : cJSON_Duplicate(run->input, 1);

        if (run->eff == NULL && run->err.error == NULL) {
            sfn_err_set(&run->err, "States.Runtime", "out of memory");
        }

        return run->eff ? 0 : -1;
    }

    sfn_env_init(&env, run, run->input);

    if (sfn_io_input_path(run, &env, &eff, &owned) != 0) {
        sfn_env_done(&env);
        return -1;
    }

    sfn_inspect(run, "afterInputPath", eff);

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

        sfn_inspect(run, "afterParameters", res);
        run->eff = res;
        return 0;
    }

    run->eff = sfn_io_own(eff, owned);
    sfn_env_done(&env);

    sfn_inspect(run, "afterParameters", run->eff);

    return run->eff ? 0 : -1;
}


int
sfn_io_path_int(sfn_run_t *run, const sfn_path_t *p, const cJSON *input,
    const char *field, int64_t *out, double *dout)
{
    int        owned, ok;
    cJSON     *v;
    sfn_buf_t  b;
    sfn_env_t  env;

    sfn_env_init(&env, run, input);

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


/*
 * The result of a Task, Parallel or Map state (owned, consumed): the size
 * check, ResultSelector, ResultPath, the exit event and the transition.
 */
int
sfn_state_result(sfn_run_t *run, cJSON *res)
{
    cJSON              *sel;
    sfn_err_t           err;
    sfn_env_t           env;
    const sfn_state_t  *st;

    st = run->state;

    if (sfn_io_check_size(run, res) != 0) {
        cJSON_Delete(res);
        return SFN_R_FAIL;
    }

    sfn_inspect(run, "result", res);

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

    sfn_inspect(run, "afterResultSelector", res);

    cJSON_Delete(run->eff);
    run->eff = NULL;

    if (st->jsonata) {
        if (sfn_query_output(run, res, NULL, st->qassign, st->output) != 0) {
            return SFN_R_FAIL;
        }

    } else {
        if (st->assign && sfn_vars_assign(run, st->assign, res) != 0) {
            cJSON_Delete(res);
            return SFN_R_FAIL;
        }

        if (sfn_io_output(run, res, 1, st->result_path, st->result_path_null)
            != 0)
        {
            return SFN_R_FAIL;
        }
    }

    sfn_state_exit(run);

    return sfn_transition(run, st->next);
}


/* the catcher's ResultPath on the state's input; OutputPath is not used */
int
sfn_io_output_catch(sfn_run_t *run, cJSON *o, const sfn_catcher_t *ct)
{
    char   *in;
    cJSON  *raw;

    if (ct->result_path_null) {
        cJSON_Delete(o);
        return 0;
    }

    if (ct->result_path == NULL) {
        sfn_run_replace_input(run, o);
        return 0;
    }

    raw = sfn_payload_take(run->input, &run->shared);

    if (raw == NULL) {
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        cJSON_Delete(o);
        return -1;
    }

    run->input = raw;

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
