
/*
 * Copyright (C) ngx_sfn authors
 *
 * Tasks on the thread pool: the engine's run_task and cancel_task host
 * calls, the hand-off to a thread and back (a full queue waits its turn),
 * task tokens for .waitForTaskToken, and the progress a running task
 * reports, published to the shared zone by the poll timer.
 */


#include "ngx_http_sfn_exec.h"
#include "ngx_http_sfn_maprun.h"


#define NGX_HTTP_SFN_REPOST_DELAY  50


static void ngx_http_sfn_task_post(ngx_http_sfn_task_ctx_t *ctx);


static const char *
ngx_http_sfn_bucket_path(void *data, const char *name)
{
    ngx_http_sfn_task_ctx_t *ctx = data;

    ngx_str_t                  s;
    ngx_http_sfn_bucket_t     *b;
    ngx_http_sfn_main_conf_t  *smcf;

    /* the configuration is read-only while the worker lives */

    smcf = ctx->run->smcf;

    s.data = (u_char *) name;
    s.len = ngx_strlen(name);

    b = ngx_http_sfn_bucket_find(smcf, &s);

    return b ? (const char *) b->path.data : NULL;
}


/* the thread side: only the call and its environment are touched here */

static void
ngx_http_sfn_task_progress(void *data, double percent, double fps)
{
    ngx_http_sfn_task_ctx_t *ctx = data;

    /* plain stores the poll timer reads; a torn pair is harmless */

    ctx->fps = fps;
    ctx->percent = percent > 0 ? percent : 0.1;
}


static void
ngx_http_sfn_task_thread(void *data, ngx_log_t *log)
{
    ngx_http_sfn_task_ctx_t *ctx = data;

    ctx->rc = sfn_task_run(&ctx->call);
}


static void
ngx_http_sfn_task_done(ngx_event_t *ev)
{
    char                     *text;
    ngx_http_sfn_run_t       *run;
    ngx_http_sfn_task_ctx_t  *ctx;

    ctx = ev->data;
    run = ctx->run;


    if (ngx_http_sfn_run_paced(run)
        && ngx_http_sfn_run_hold(run, ev, NULL) == NGX_OK)
    {
        /* its thread stays counted: the run is not freed meanwhile */
        return;
    }

    ctx->in_thread = 0;
    run->in_thread--;

    if (ctx->rc == SFN_TASK_AGAIN) {

        if (!ctx->abandoned && !run->finished && !run->lost) {
            /*
             * a .sync job is polled again by a timer: no thread waits
             * for it meanwhile, and a cancel deletes the timer
             */

            ngx_add_timer(&ctx->repost, (ngx_msec_t) ctx->call.again);
            return;
        }

        sfn_task_call_free(&ctx->call);
        ctx->rc = SFN_TASK_FAILED;
    }

    if (ctx->shown) {
        ngx_http_sfn_progress_clear(run);
    }

    ngx_http_sfn_metrics_task(run->smcf, ctx->call.resource,
                              ctx->rc == SFN_TASK_OK,
                              ngx_http_sfn_now_ms() - ctx->started);

    if (ctx->token.len && ctx->rc == SFN_TASK_OK && !ctx->abandoned
        && !run->finished)
    {
        /* .waitForTaskToken: the result comes with SendTaskSuccess */

        ctx->waiting = 1;

        if (ctx->call.output) {
            cJSON_Delete(ctx->call.output);
            ctx->call.output = NULL;
        }

        cJSON_Delete((cJSON *) ctx->call.input);
        ctx->call.input = NULL;

        ngx_http_sfn_run_after(run);
        return;
    }

    ngx_queue_remove(&ctx->queue);
    ngx_http_sfn_task_forget(ctx);

    if (!ctx->abandoned && !run->finished) {

        if (ctx->rc == SFN_TASK_OK) {
            text = cJSON_PrintUnformatted(ctx->call.output);

            if (text == NULL) {
                (void) sfn_exec_task_failed(run->exec, ctx->id,
                                            "States.Runtime",
                                            "out of memory");

            } else {
                (void) sfn_exec_task_succeeded(run->exec, ctx->id, text,
                                               ngx_strlen(text));
                cJSON_free(text);
            }

        } else {
            ngx_log_error(NGX_LOG_INFO, run->log, 0,
                          "sfn execution \"%V\" task \"%s\" failed: %s: %s",
                          &run->name, ctx->call.resource, ctx->call.error,
                          ctx->call.cause);

            (void) sfn_exec_task_failed(run->exec, ctx->id, ctx->call.error,
                                        ctx->call.cause);
        }
    }

    if (ctx->call.output) {
        cJSON_Delete(ctx->call.output);
        ctx->call.output = NULL;
    }

    cJSON_Delete((cJSON *) ctx->call.input);
    ctx->call.input = NULL;

    if (run->lost) {
        if (run->in_thread == 0 && run->commits == 0) {
            ngx_http_sfn_run_free(run);
        }

        return;
    }

    ngx_http_sfn_run_after(run);
}


void
ngx_http_sfn_task_forget(ngx_http_sfn_task_ctx_t *ctx)
{
    const char  *values[1];

    if (ctx->token.len == 0) {
        return;
    }

    (void) ngx_http_sfn_shm_token_close(ctx->run->smcf, &ctx->token);

    if (ctx->activity) {
        ngx_http_sfn_activity_forget(ctx);
    }

    if (ctx->run->durable) {
        values[0] = ctx->call.token;

        /* no memory: the token closes when its execution ends */

        (void) ngx_http_sfn_pg_record("UPDATE sfn_tokens SET closed = true "
                                      "WHERE token = $1 AND NOT closed",
                                      1, values, NULL, NULL);
    }

    ctx->token.len = 0;
}


ngx_http_sfn_task_ctx_t *
ngx_http_sfn_task_find(ngx_http_sfn_run_t *run, uint64_t id)
{
    ngx_queue_t              *q;
    ngx_http_sfn_task_ctx_t  *ctx;

    for (q = ngx_queue_head(&run->tasks);
         q != ngx_queue_sentinel(&run->tasks);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_http_sfn_task_ctx_t, queue);

        if (ctx->id == id && !ctx->abandoned) {
            return ctx;
        }
    }

    return NULL;
}


static void
ngx_http_sfn_task_repost(ngx_event_t *ev)
{
    ngx_http_sfn_task_post(ev->data);
}


static void
ngx_http_sfn_task_post(ngx_http_sfn_task_ctx_t *ctx)
{
    ngx_http_sfn_run_t  *run;

    run = ctx->run;

    if (ngx_thread_task_post(run->smcf->thread_pool, ctx->task) == NGX_OK) {
        ctx->in_thread = 1;
        run->in_thread++;
        ngx_http_sfn_metrics_task_posted(run->smcf);
        return;
    }

    /* the pool's queue is full: the task waits its turn, it does not fail */

    ngx_add_timer(&ctx->repost, NGX_HTTP_SFN_REPOST_DELAY);
}


int
ngx_http_sfn_host_run_task(void *data, sfn_exec_t *e, const sfn_task_req_t *t)
{
    ngx_http_sfn_run_t       *run = data;
    u_char                    id[NGX_INT64_LEN + 1];
    const char               *values[3];
    ngx_thread_task_t        *task;
    ngx_http_sfn_task_ctx_t  *ctx;

    if (!sfn_service_known(&run->smcf->services, t->resource)
        && !sfn_resource_activity(t->resource))
    {
        return SFN_ERROR;
    }

    task = ngx_thread_task_alloc(run->pool, sizeof(ngx_http_sfn_task_ctx_t));
    if (task == NULL) {
        return SFN_ERROR;
    }

    ctx = task->ctx;
    ngx_memzero(ctx, sizeof(ngx_http_sfn_task_ctx_t));

    ctx->id = t->id;
    ctx->run = run;
    ctx->task = task;
    ctx->started = ngx_http_sfn_now_ms();

    ctx->call.resource = ngx_http_sfn_strdup(run->pool, t->resource);
    ctx->call.token = t->token ? ngx_http_sfn_strdup(run->pool, t->token)
                               : NULL;
    ctx->call.input = cJSON_Duplicate(t->input, 1);

    if (ctx->call.resource == NULL || ctx->call.input == NULL
        || (t->token && ctx->call.token == NULL))
    {
        cJSON_Delete((cJSON *) ctx->call.input);
        return SFN_ERROR;
    }

    ctx->env.bucket_path = ngx_http_sfn_bucket_path;
    ctx->env.cancel = &ctx->cancel;
    ctx->env.progress = ngx_http_sfn_task_progress;
    ctx->env.data = ctx;
    ctx->env.db_conninfo = run->smcf->database.len
                           ? (const char *) run->smcf->database.data : NULL;
    ctx->env.execution = (const char *) run->arn.data;
    ctx->env.services = &run->smcf->services;
    ctx->call.env = &ctx->env;

    task->handler = ngx_http_sfn_task_thread;
    task->event.handler = ngx_http_sfn_task_done;
    task->event.data = ctx;

    ctx->repost.handler = ngx_http_sfn_task_repost;
    ctx->repost.data = ctx;
    ctx->repost.log = run->log;

    /*
     * a .sync job's next poll must not hold a worker that is shutting
     * down: the execution's next owner starts the task again
     */
    ctx->repost.cancelable = 1;

    if (t->token) {
        ctx->token.data = (u_char *) ctx->call.token;
        ctx->token.len = ngx_strlen(t->token);

        if (ngx_http_sfn_shm_token_put(run->smcf, &ctx->token, &run->arn,
                                       t->id)
            != NGX_OK)
        {
            cJSON_Delete((cJSON *) ctx->call.input);
            return SFN_ERROR;
        }

        if (run->durable) {
            /* any node may get the callback; it commits with the step */

            ngx_sprintf(id, "%uL%Z", t->id);

            values[0] = ctx->call.token;
            values[1] = (const char *) run->arn.data;
            values[2] = (const char *) id;

            if (ngx_http_sfn_pg_record("INSERT INTO sfn_tokens "
                                       "(token, execution_arn, task) "
                                       "VALUES ($1, $2, $3) "
                                       "ON CONFLICT (token) DO NOTHING",
                                       3, values, NULL, NULL)
                != NGX_OK)
            {
                ngx_http_sfn_shm_token_delete(run->smcf, &ctx->token);
                cJSON_Delete((cJSON *) ctx->call.input);
                return SFN_ERROR;
            }
        }
    }

    ngx_queue_insert_tail(&run->tasks, &ctx->queue);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, run->log, 0,
                   "sfn execution \"%V\" runs task %uL \"%s\"",
                   &run->name, t->id, t->resource);

    if (sfn_resource_activity(t->resource)) {
        /* no thread: a worker polls for it */
        return ngx_http_sfn_activity_schedule(ctx);
    }

    if (run->durable) {
        /* a Standard execution records the step before its effects */
        ctx->deferred = 1;
        return SFN_OK;
    }

    ngx_http_sfn_task_post(ctx);

    return SFN_OK;
}


void
ngx_http_sfn_host_cancel_task(void *data, sfn_exec_t *e, uint64_t id)
{
    ngx_http_sfn_run_t *run = data;

    ngx_queue_t              *q;
    ngx_http_sfn_task_ctx_t  *ctx;

    if (ngx_http_sfn_maprun_cancel(e, id) == NGX_OK) {
        return;
    }

    for (q = ngx_queue_head(&run->tasks);
         q != ngx_queue_sentinel(&run->tasks);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_http_sfn_task_ctx_t, queue);

        if (ctx->id != id || ctx->abandoned) {
            continue;
        }

        ctx->abandoned = 1;
        ctx->cancel = 1;

        ngx_http_sfn_task_forget(ctx);

        if (!ctx->in_thread) {
            ctx->deferred = 0;

            if (ctx->repost.timer_set) {
                ngx_del_timer(&ctx->repost);
            }

            ngx_queue_remove(&ctx->queue);
            cJSON_Delete((cJSON *) ctx->call.input);
            ctx->call.input = NULL;
            sfn_task_call_free(&ctx->call);
        }

        return;
    }
}


void
ngx_http_sfn_task_post_deferred(ngx_http_sfn_run_t *run)
{
    ngx_queue_t              *q;
    ngx_http_sfn_task_ctx_t  *ctx;

    for (q = ngx_queue_head(&run->tasks);
         q != ngx_queue_sentinel(&run->tasks);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_http_sfn_task_ctx_t, queue);

        if (ctx->deferred) {
            ctx->deferred = 0;
            ngx_http_sfn_task_post(ctx);
        }
    }
}


void
ngx_http_sfn_task_cancel_all(ngx_http_sfn_run_t *run)
{
    ngx_queue_t              *q, *next;
    ngx_http_sfn_task_ctx_t  *ctx;

    for (q = ngx_queue_head(&run->tasks);
         q != ngx_queue_sentinel(&run->tasks);
         q = next)
    {
        next = ngx_queue_next(q);
        ctx = ngx_queue_data(q, ngx_http_sfn_task_ctx_t, queue);

        ctx->cancel = 1;
        ctx->abandoned = 1;
        ctx->deferred = 0;

        if (!ctx->in_thread) {
            if (ctx->repost.timer_set) {
                ngx_del_timer(&ctx->repost);
            }

            ngx_http_sfn_task_forget(ctx);
            ngx_queue_remove(q);

            cJSON_Delete((cJSON *) ctx->call.input);
            ctx->call.input = NULL;
            sfn_task_call_free(&ctx->call);
        }
    }
}


void
ngx_http_sfn_progress_clear(ngx_http_sfn_run_t *run)
{
    ngx_http_sfn_record_t  rec;

    ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));
    rec.arn = run->arn;
    rec.status = SFN_RUNNING;
    rec.percent = -1;

    /* progress is for display only: a failure is logged by the zone */

    (void) ngx_http_sfn_shm_put(run->smcf, &rec);
}


void
ngx_http_sfn_progress_publish(void)
{
    double                    percent;
    ngx_queue_t              *q, *tq;
    ngx_http_sfn_run_t       *run;
    ngx_http_sfn_record_t     rec;
    ngx_http_sfn_task_ctx_t  *ctx;

    for (q = ngx_queue_head(&ngx_http_sfn_runs);
         q != ngx_queue_sentinel(&ngx_http_sfn_runs);
         q = ngx_queue_next(q))
    {
        run = ngx_queue_data(q, ngx_http_sfn_run_t, queue);

        if (run->in_thread == 0 || run->finished) {
            continue;
        }

        for (tq = ngx_queue_head(&run->tasks);
             tq != ngx_queue_sentinel(&run->tasks);
             tq = ngx_queue_next(tq))
        {
            ctx = ngx_queue_data(tq, ngx_http_sfn_task_ctx_t, queue);
            percent = ctx->percent;

            if (!ctx->in_thread || percent == 0 || percent == ctx->shown) {
                continue;
            }

            ctx->shown = percent;

            ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));
            rec.arn = run->arn;
            rec.status = SFN_RUNNING;
            rec.percent = percent;
            rec.fps = ctx->fps;

            /* for display only; the next poll tries again */

            (void) ngx_http_sfn_shm_put(run->smcf, &rec);
        }
    }
}
