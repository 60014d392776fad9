
/*
 * Copyright (C) ngx_sfn authors
 *
 * The event-loop driver of executions: the engine's host callbacks mapped
 * onto nginx timers, the thread pool, the shared zone and PostgreSQL.
 * An execution is stepped only by the worker that owns it.
 */


#include "ngx_http_sfn_module.h"
#include <sfn_task.h>

#include <sys/random.h>
#include <libpq-fe.h>


#define NGX_HTTP_SFN_REPOST_DELAY  50
#define NGX_HTTP_SFN_SLICE         5


typedef struct ngx_http_sfn_run_s  ngx_http_sfn_run_t;


typedef struct {
    ngx_rbtree_node_t            node;      /* key: the engine's id */
    ngx_event_t                  ev;
    ngx_queue_t                  queue;
    ngx_http_sfn_run_t          *run;
} ngx_http_sfn_timer_t;


typedef struct {
    ngx_queue_t                  queue;
    uint64_t                     id;
    ngx_http_sfn_run_t          *run;
    ngx_thread_task_t           *task;
    ngx_event_t                  repost;
    sfn_task_call_t              call;
    sfn_task_env_t               env;
    ngx_str_t                    token;
    int64_t                      started;
    volatile int                 cancel;
    volatile double              percent;   /* written by the thread */
    volatile double              fps;
    double                       shown;
    int                          rc;
    unsigned                     abandoned:1;
    unsigned                     in_thread:1;
    unsigned                     waiting:1;     /* for a callback */
    unsigned                     deferred:1;    /* until the step commits */
} ngx_http_sfn_task_ctx_t;


struct ngx_http_sfn_run_s {
    ngx_queue_t                  queue;
    sfn_exec_t                  *exec;
    ngx_pool_t                  *pool;
    ngx_log_t                   *log;
    ngx_http_sfn_main_conf_t    *smcf;
    ngx_http_sfn_machine_t      *sm;
    ngx_str_t                    name;
    ngx_str_t                    arn;
    ngx_str_t                    job;
    ngx_rbtree_t                 timer_tree;
    ngx_rbtree_node_t            timer_sentinel;
    ngx_queue_t                  timers;
    ngx_queue_t                  free_timers;
    ngx_queue_t                  tasks;
    ngx_uint_t                   in_thread;
    ngx_uint_t                   commits;   /* awaiting their handler */
    u_char                      *events;    /* this step's, as JSON */
    size_t                       events_len;
    size_t                       events_size;
    const char                  *state;
    int64_t                      start_ms;
    ngx_http_sfn_finish_pt       on_finish;
    void                        *on_finish_data;
    unsigned                     finished:1;
    unsigned                     durable:1;
    unsigned                     lost:1;    /* another owner took it */
    unsigned                     ephemeral:1; /* no record: a sync start */
    unsigned                     inserted:1;  /* its row is queued */
    unsigned                     inserted_final:1;
    ngx_str_t                    input;       /* until the row is written */
    ngx_str_t                    bucket;
    ngx_str_t                    key;
};


static ngx_queue_t                ngx_http_sfn_runs;
static ngx_event_t                ngx_http_sfn_poll_ev;
static ngx_http_sfn_main_conf_t  *ngx_http_sfn_smcf;


#define NGX_HTTP_SFN_POLL          50
#define NGX_HTTP_SFN_MSG_EXPIRE    30000
#define NGX_HTTP_SFN_LEASE         "5 seconds"
#define NGX_HTTP_SFN_RENEW         2000
#define NGX_HTTP_SFN_SCAN          1000
#define NGX_HTTP_SFN_CLAIM         "32"
#define NGX_HTTP_SFN_REAP          1000


static ngx_uint_t                 ngx_http_sfn_ephemeral;

/* the pool of the last run freed, reset for the next: no malloc per run */
static ngx_pool_t                *ngx_http_sfn_spare_pool;

/* the last execution that finished here, for a synchronous caller */
static ngx_http_sfn_record_t      ngx_http_sfn_last;
static u_char                    *ngx_http_sfn_last_buf;
static size_t                     ngx_http_sfn_last_size;

static ngx_event_t                ngx_http_sfn_renew_ev;
static ngx_event_t                ngx_http_sfn_scan_ev;
static u_char                     ngx_http_sfn_owner[NGX_MAXHOSTNAMELEN + 32];
static ngx_uint_t                 ngx_http_sfn_scanning;
static ngx_uint_t                 ngx_http_sfn_mail_polling;
static ngx_uint_t                 ngx_http_sfn_durable; /* runs, leased */
static ngx_uint_t                 ngx_http_sfn_mail_again;
static ngx_msec_t                 ngx_http_sfn_reaped;


static void ngx_http_sfn_run_after(ngx_http_sfn_run_t *run);
static void ngx_http_sfn_task_forget(ngx_http_sfn_task_ctx_t *ctx);
static void ngx_http_sfn_run_free(ngx_http_sfn_run_t *run);
static void ngx_http_sfn_run_commit(ngx_http_sfn_run_t *run,
    const char *state);
static void ngx_http_sfn_run_cancel_tasks(ngx_http_sfn_run_t *run);
static void ngx_http_sfn_run_stop_timers(ngx_http_sfn_run_t *run);
static void ngx_http_sfn_timer_release(ngx_http_sfn_timer_t *t);
static ngx_http_sfn_run_t *ngx_http_sfn_run_find(ngx_str_t *arn);
static void ngx_http_sfn_run_flush_events(ngx_http_sfn_run_t *run);
static void ngx_http_sfn_run_insert(ngx_http_sfn_run_t *run,
    sfn_status_e status);
static void ngx_http_sfn_progress_clear(ngx_http_sfn_run_t *run);
static void ngx_http_sfn_keep_last(ngx_http_sfn_run_t *run,
    ngx_http_sfn_record_t *rec);
static void ngx_http_sfn_task_post(ngx_http_sfn_task_ctx_t *ctx);
static void ngx_http_sfn_mail_poll(void);
static void ngx_http_sfn_msg_apply(ngx_http_sfn_run_t *run,
    ngx_http_sfn_msg_t *msg);


/*
 * The kernel's random bytes, drawn 512 at a time: an unnamed synchronous
 * start needs 16, and a system call for each cost a tenth of its rate.
 * The buffer is per worker (emptied as a worker starts: what a parent
 * drew must not be shared by its children) and never handed out twice.
 */

static u_char  ngx_http_sfn_random_pool[512];
static size_t  ngx_http_sfn_random_left;


static void
ngx_http_sfn_random(void *buf, size_t len)
{
    u_char   *p, *pool;
    size_t    n, left;
    ssize_t   got;

    pool = ngx_http_sfn_random_pool;
    left = ngx_http_sfn_random_left;

    for (p = buf; len; p += n, len -= n) {

        if (left == 0) {
            got = getrandom(pool, sizeof(ngx_http_sfn_random_pool), 0);

            if (got <= 0) {
                ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                              "getrandom() failed");
                ngx_memzero(p, len);
                break;
            }

            left = got;
        }

        n = ngx_min(len, left);

        /* taken from the end, and wiped */

        left -= n;
        ngx_memcpy(p, pool + left, n);
        ngx_explicit_memzero(pool + left, n);
    }

    ngx_http_sfn_random_left = left;
}


size_t
ngx_http_sfn_uuid(u_char *buf)
{
    u_char  b[16];

    ngx_http_sfn_random(b, sizeof(b));

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    return ngx_sprintf(buf, "%*xs-%*xs-%*xs-%*xs-%*xs",
                       (size_t) 4, b, (size_t) 2, b + 4, (size_t) 2, b + 6,
                       (size_t) 2, b + 8, (size_t) 6, b + 10)
           - buf;
}


size_t
ngx_http_sfn_iso8601(u_char *buf, int64_t ms)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                       (int) (ms % 1000))
           - buf;
}


int64_t
ngx_http_sfn_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


static int64_t
ngx_http_sfn_host_now(void *data)
{
    return ngx_http_sfn_now_ms();
}


static void
ngx_http_sfn_host_random(void *data, void *buf, size_t len)
{
    ngx_http_sfn_random(buf, len);
}


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


static char *
ngx_http_sfn_strdup(ngx_pool_t *pool, const char *s)
{
    size_t   len;
    u_char  *p;

    len = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);

    return (char *) p;
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

    ctx->in_thread = 0;
    run->in_thread--;

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


static void
ngx_http_sfn_task_forget(ngx_http_sfn_task_ctx_t *ctx)
{
    const char  *values[1];

    if (ctx->token.len == 0) {
        return;
    }

    (void) ngx_http_sfn_shm_token_close(ctx->run->smcf, &ctx->token);

    if (ctx->run->durable) {
        values[0] = ctx->call.token;

        (void) ngx_http_sfn_pg_exec("UPDATE sfn_tokens SET closed = true "
                                    "WHERE token = $1 AND NOT closed",
                                    1, values);
    }

    ctx->token.len = 0;
}


static ngx_http_sfn_task_ctx_t *
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


static int
ngx_http_sfn_host_run_task(void *data, sfn_exec_t *e, const sfn_task_req_t *t)
{
    ngx_http_sfn_run_t       *run = data;
    u_char                    id[NGX_INT64_LEN + 1];
    const char               *values[3];
    ngx_thread_task_t        *task;
    ngx_http_sfn_task_ctx_t  *ctx;

    if (sfn_task_find(t->resource) == NULL) {
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
    ctx->call.env = &ctx->env;

    task->handler = ngx_http_sfn_task_thread;
    task->event.handler = ngx_http_sfn_task_done;
    task->event.data = ctx;

    ctx->repost.handler = ngx_http_sfn_task_repost;
    ctx->repost.data = ctx;
    ctx->repost.log = run->log;

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

            (void) ngx_http_sfn_pg_exec("INSERT INTO sfn_tokens "
                                        "(token, execution_arn, task) "
                                        "VALUES ($1, $2, $3) "
                                        "ON CONFLICT (token) DO NOTHING",
                                        3, values);
        }
    }

    ngx_queue_insert_tail(&run->tasks, &ctx->queue);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, run->log, 0,
                   "sfn execution \"%V\" runs task %uL \"%s\"",
                   &run->name, t->id, t->resource);

    if (run->durable) {
        /* a Standard execution records the step before its effects */
        ctx->deferred = 1;
        return SFN_OK;
    }

    ngx_http_sfn_task_post(ctx);

    return SFN_OK;
}


static void
ngx_http_sfn_host_cancel_task(void *data, sfn_exec_t *e, uint64_t id)
{
    ngx_http_sfn_run_t *run = data;

    ngx_queue_t              *q;
    ngx_http_sfn_task_ctx_t  *ctx;

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
        }

        return;
    }
}


static void
ngx_http_sfn_timer_handler(ngx_event_t *ev)
{
    ngx_http_sfn_timer_t  *t = ev->data;

    uint64_t             id;
    ngx_http_sfn_run_t  *run;

    run = t->run;
    id = t->node.key;

    ngx_http_sfn_timer_release(t);

    (void) sfn_exec_timer(run->exec, id);

    ngx_http_sfn_run_after(run);
}


/*
 * Interpretation runs in slices: once this turn of the event loop is
 * NGX_HTTP_SFN_SLICE old (ngx_current_msec is the monotonic clock as
 * epoll returned), every execution yields after the transition it is in,
 * whatever its loop or payload.
 */

static int
ngx_http_sfn_host_yield(void *data)
{
    ngx_msec_t       now;
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    now = (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;

    return (ngx_msec_int_t) (now - ngx_current_msec) >= NGX_HTTP_SFN_SLICE;
}


static ngx_http_sfn_timer_t *
ngx_http_sfn_timer_find(ngx_http_sfn_run_t *run, uint64_t id)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = run->timer_tree.root;
    sentinel = run->timer_tree.sentinel;

    while (node != sentinel) {

        if (id == node->key) {
            return (ngx_http_sfn_timer_t *) node;
        }

        node = (id < node->key) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_sfn_timer_stop(ngx_http_sfn_timer_t *t)
{
    if (t->ev.timer_set) {
        ngx_del_timer(&t->ev);
    }

    if (t->ev.posted) {
        ngx_delete_posted_event(&t->ev);
    }
}


static void
ngx_http_sfn_timer_release(ngx_http_sfn_timer_t *t)
{
    ngx_http_sfn_run_t  *run;

    run = t->run;

    ngx_http_sfn_timer_stop(t);
    ngx_rbtree_delete(&run->timer_tree, &t->node);
    ngx_queue_remove(&t->queue);
    ngx_queue_insert_tail(&run->free_timers, &t->queue);
}


/*
 * A timer already due (the engine yielding after a slice of transitions,
 * a Wait in the past, a retry without interval) is posted for the next
 * turn of the event loop, after epoll has run: a 0 ms timer would fire
 * again in the same expiry pass, and so would a plain posted event in the
 * same posted-events pass, and the worker would never serve anyone else.
 */

static int
ngx_http_sfn_host_arm_timer(void *data, sfn_exec_t *e, uint64_t id,
    int64_t due_ms)
{
    ngx_http_sfn_run_t *run = data;

    int64_t                delay;
    ngx_queue_t           *q;
    ngx_http_sfn_timer_t  *t;

    t = ngx_http_sfn_timer_find(run, id);

    if (t == NULL) {
        if (!ngx_queue_empty(&run->free_timers)) {
            q = ngx_queue_head(&run->free_timers);
            ngx_queue_remove(q);
            t = ngx_queue_data(q, ngx_http_sfn_timer_t, queue);

        } else {
            t = ngx_palloc(run->pool, sizeof(ngx_http_sfn_timer_t));
            if (t == NULL) {
                return SFN_ERROR;
            }
        }

        ngx_memzero(t, sizeof(ngx_http_sfn_timer_t));

        t->node.key = id;
        t->run = run;
        t->ev.handler = ngx_http_sfn_timer_handler;
        t->ev.data = t;
        t->ev.log = run->log;

        /* a Wait must not hold a worker that is shutting down */
        t->ev.cancelable = 1;

        ngx_rbtree_insert(&run->timer_tree, &t->node);
        ngx_queue_insert_tail(&run->timers, &t->queue);

    } else {
        ngx_http_sfn_timer_stop(t);
    }

    delay = due_ms - ngx_http_sfn_host_now(NULL);

    if (delay <= 0) {
        ngx_post_event(&t->ev, &ngx_posted_next_events);
        return SFN_OK;
    }

    ngx_add_timer(&t->ev, (ngx_msec_t) delay);

    return SFN_OK;
}


static void
ngx_http_sfn_host_cancel_timer(void *data, sfn_exec_t *e, uint64_t id)
{
    ngx_http_sfn_run_t *run = data;

    ngx_http_sfn_timer_t  *t;

    t = ngx_http_sfn_timer_find(run, id);

    if (t != NULL) {
        ngx_http_sfn_timer_release(t);
    }
}


/*
 * History events are gathered per step and written with one statement
 * (jsonb_to_recordset), in the same transaction as the step itself.
 */

static void
ngx_http_sfn_host_event(void *data, sfn_exec_t *e, const sfn_event_t *ev)
{
    ngx_http_sfn_run_t *run = data;

    u_char  *p;
    char    *details;
    size_t   len, size;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, run->log, 0,
                   "sfn execution \"%V\" event %L %s",
                   &run->name, ev->id, ev->type);

    if (!run->durable) {
        return;
    }

    details = ev->details ? cJSON_PrintUnformatted(ev->details) : NULL;

    len = sizeof(",{\"id\":,\"prev\":,\"type\":\"\",\"ts\":,\"details\":}]")
          + 3 * NGX_INT64_LEN + ngx_strlen(ev->type)
          + (details ? ngx_strlen(details) : sizeof("null"));

    if (run->events_len + len > run->events_size) {
        size = ngx_max(run->events_size * 2, run->events_len + len + 1024);

        p = ngx_alloc(size, run->log);
        if (p == NULL) {
            goto done;
        }

        if (run->events) {
            ngx_memcpy(p, run->events, run->events_len);
            ngx_free(run->events);
        }

        run->events = p;
        run->events_size = size;
    }

    p = run->events + run->events_len;

    p = ngx_sprintf(p, "%c{\"id\":%L,\"prev\":%L,\"type\":\"%s\",\"ts\":%L,"
                    "\"details\":%s}",
                    run->events_len ? ',' : '[', ev->id, ev->previous_id,
                    ev->type, ev->timestamp_ms,
                    details ? details : "null");

    run->events_len = p - run->events;

done:

    if (details) {
        cJSON_free(details);
    }
}


static void
ngx_http_sfn_run_insert(ngx_http_sfn_run_t *run, sfn_status_e status)
{
    u_char       ts[NGX_INT64_LEN + 1], stop[NGX_INT64_LEN + 1];
    const char  *values[13], *error;

    run->inserted = 1;
    run->inserted_final = (status != SFN_RUNNING);

    *ngx_sprintf(ts, "%L", run->start_ms) = '\0';
    *ngx_sprintf(stop, "%L", ngx_http_sfn_now_ms()) = '\0';

    values[0] = (const char *) run->arn.data;
    values[1] = (const char *) run->name.data;
    values[2] = (const char *) run->sm->name.data;
    values[3] = "STANDARD";
    values[4] = (const char *) run->input.data;
    values[5] = (const char *) ts;
    values[6] = (const char *) ngx_http_sfn_owner;
    values[7] = (const char *) run->job.data;
    values[8] = sfn_status_name(status);

    if (status == SFN_RUNNING) {
        values[9] = NULL;
        values[10] = NULL;
        values[11] = NULL;

    } else {
        values[9] = sfn_exec_output(run->exec);
        values[10] = sfn_exec_error(run->exec);
        values[11] = sfn_exec_cause(run->exec);
    }

    values[12] = (const char *) stop;
    error = values[10];

    /* owned and leased from the first moment: no scan may claim it */

    (void) ngx_http_sfn_pg_exec(
        "INSERT INTO sfn_executions "
        "(arn, name, state_machine, type, status, input, start_date, "
        "owner, lease_until, job_id, output, error, cause, stop_date) "
        "VALUES ($1, $2, $3, $4, $9, $5, to_timestamp($6::float8 / 1000), "
        "$7, now() + interval '" NGX_HTTP_SFN_LEASE "', $8, $10, $11, $12, "
        "CASE WHEN $9 = 'RUNNING' THEN NULL "
        "ELSE to_timestamp($13::float8 / 1000) END) "
        "ON CONFLICT DO NOTHING", 13, values);

    if (run->job.len == 0) {
        return;
    }

    values[0] = (const char *) run->job.data;
    values[1] = (const char *) run->arn.data;
    values[2] = (const char *) run->sm->name.data;
    values[3] = (const char *) run->bucket.data;
    values[4] = (const char *) run->key.data;
    values[5] = sfn_status_name(status);
    values[6] = error;

    (void) ngx_http_sfn_pg_exec(
        "INSERT INTO sfn_jobs "
        "(job_id, execution_arn, state_machine, bucket, key, status, "
        "attributes) "
        "VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 = 'RUNNING' "
        "THEN '{}'::jsonb ELSE jsonb_build_object('executionStatus', "
        "$6::text, 'error', $7::text) END) "
        "ON CONFLICT (job_id) DO NOTHING", 7, values);
}


static void
ngx_http_sfn_run_flush_events(ngx_http_sfn_run_t *run)
{
    const char  *values[2];

    if (run->events_len == 0) {
        return;
    }

    run->events[run->events_len++] = ']';
    run->events[run->events_len] = '\0';

    values[0] = (const char *) run->arn.data;
    values[1] = (const char *) run->events;

    (void) ngx_http_sfn_pg_exec(
        "INSERT INTO sfn_history "
        "(execution_arn, id, previous_id, type, ts, details) "
        "SELECT $1, x.id, x.prev, x.type, to_timestamp(x.ts / 1000.0), "
        "x.details FROM jsonb_to_recordset($2::jsonb) AS "
        "x(id bigint, prev bigint, type text, ts float8, details jsonb) "
        "ON CONFLICT DO NOTHING", 2, values);

    run->events_len = 0;
}


static void
ngx_http_sfn_host_log(void *data, int level, const char *msg)
{
    ngx_http_sfn_run_t *run = data;

    static const ngx_uint_t  levels[] = {
        NGX_LOG_ERR, NGX_LOG_WARN, NGX_LOG_INFO, NGX_LOG_DEBUG
    };

    ngx_log_error(levels[level & 3], run->log, 0,
                  "sfn execution \"%V\": %s", &run->name, msg);
}


static const sfn_host_t  ngx_http_sfn_host_ops = {
    NULL,
    ngx_http_sfn_host_now,
    ngx_http_sfn_host_random,
    ngx_http_sfn_host_run_task,
    ngx_http_sfn_host_cancel_task,
    ngx_http_sfn_host_arm_timer,
    ngx_http_sfn_host_cancel_timer,
    ngx_http_sfn_host_event,
    NULL,
    ngx_http_sfn_host_log,
    ngx_http_sfn_host_yield
};


static void
ngx_http_sfn_run_stop_timers(ngx_http_sfn_run_t *run)
{
    ngx_queue_t  *q;

    for (q = ngx_queue_head(&run->timers);
         q != ngx_queue_sentinel(&run->timers);
         q = ngx_queue_next(q))
    {
        ngx_http_sfn_timer_stop(ngx_queue_data(q, ngx_http_sfn_timer_t,
                                               queue));
    }
}


static void
ngx_http_sfn_run_free(ngx_http_sfn_run_t *run)
{
    ngx_queue_t              *q;
    ngx_http_sfn_task_ctx_t  *ctx;

    ngx_http_sfn_run_stop_timers(run);

    for (q = ngx_queue_head(&run->tasks);
         q != ngx_queue_sentinel(&run->tasks);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_http_sfn_task_ctx_t, queue);

        ngx_http_sfn_task_forget(ctx);

        if (ctx->repost.timer_set) {
            ngx_del_timer(&ctx->repost);
        }

        if (ctx->call.input) {
            cJSON_Delete((cJSON *) ctx->call.input);
            ctx->call.input = NULL;
        }
    }

    ngx_queue_remove(&run->queue);
    ngx_http_sfn_durable -= run->durable;

    sfn_exec_free(run->exec);

    if (run->events) {
        ngx_free(run->events);
    }

    /* the run's pool has no cleanup handlers: a reset frees all of it */

    if (ngx_http_sfn_spare_pool == NULL) {
        ngx_reset_pool(run->pool);
        ngx_http_sfn_spare_pool = run->pool;
        return;
    }

    ngx_destroy_pool(run->pool);
}


/*
 * sfn_express_log: a finished Express execution is written to PostgreSQL
 * as it ends, through the worker's queue, never waited for: the rate path
 * stays in memory, and the table holds an audit of what ran.
 */

static void
ngx_http_sfn_log_express(ngx_http_sfn_run_t *run, ngx_http_sfn_record_t *rec)
{
    u_char       start[NGX_INT64_LEN + 1], stop[NGX_INT64_LEN + 1];
    const char  *values[10];

    *ngx_sprintf(start, "%L", run->start_ms) = '\0';
    *ngx_sprintf(stop, "%L", rec->stop_ms) = '\0';

    values[0] = (const char *) run->arn.data;
    values[1] = (const char *) run->name.data;
    values[2] = (const char *) run->sm->name.data;
    values[3] = sfn_status_name(rec->status);
    values[4] = run->input.data ? (const char *) run->input.data : "{}";
    values[5] = (const char *) start;
    values[6] = (const char *) stop;
    values[7] = (const char *) rec->output.data;
    values[8] = (const char *) rec->error.data;
    values[9] = (const char *) rec->cause.data;

    (void) ngx_http_sfn_pg_exec(
        "INSERT INTO sfn_executions "
        "(arn, name, state_machine, type, status, input, start_date, "
        "stop_date, output, error, cause) "
        "VALUES ($1, $2, $3, 'EXPRESS', $4, $5, "
        "to_timestamp($6::float8 / 1000), to_timestamp($7::float8 / 1000), "
        "$8, $9, $10) ON CONFLICT DO NOTHING", 10, values);
}


static void
ngx_http_sfn_run_finish(ngx_http_sfn_run_t *run, sfn_status_e status)
{
    u_char                  ts[NGX_INT64_LEN + 1];
    ngx_uint_t              level;
    const char             *values[7], *output, *error, *cause;
    ngx_http_sfn_record_t   rec;
    ngx_http_sfn_finish_pt  handler;

    run->finished = 1;

    output = sfn_exec_output(run->exec);
    error = sfn_exec_error(run->exec);
    cause = sfn_exec_cause(run->exec);

    ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));

    rec.arn = run->arn;
    rec.status = status;
    rec.start_ms = 0;
    rec.stop_ms = ngx_http_sfn_host_now(NULL);
    ngx_str_set(&rec.state, "");

    if (output) {
        rec.output.data = (u_char *) output;
        rec.output.len = ngx_strlen(output);
    }

    if (error) {
        rec.error.data = (u_char *) error;
        rec.error.len = ngx_strlen(error);
    }

    if (cause) {
        rec.cause.data = (u_char *) cause;
        rec.cause.len = ngx_strlen(cause);
    }

    if (run->ephemeral) {
        ngx_http_sfn_keep_last(run, &rec);

    } else {
        (void) ngx_http_sfn_shm_put(run->smcf, &rec);
    }

    ngx_http_sfn_metrics_exec(run->smcf, &run->sm->name, status,
                              rec.stop_ms - run->start_ms);

    if (run->on_finish) {
        handler = run->on_finish;
        run->on_finish = NULL;
        handler(run->on_finish_data, &rec);
    }

    /* Express executions come at rates where a line each is too much */

    level = (run->sm->type == SFN_EXPRESS) ? NGX_LOG_DEBUG : NGX_LOG_INFO;

    ngx_log_error(level, run->log, 0, "sfn execution \"%V\" of \"%V\" %s%s%s",
                  &run->name, &run->sm->name, sfn_status_name(status),
                  error ? ": " : "", error ? error : "");

    if (!run->durable) {
        if (run->smcf->express_log) {
            ngx_http_sfn_log_express(run, &rec);
        }

        return;
    }

    if (run->inserted_final) {
        return;
    }

    *ngx_sprintf(ts, "%L", rec.stop_ms) = '\0';

    values[0] = (const char *) run->arn.data;
    values[1] = sfn_status_name(status);
    values[2] = output;
    values[3] = error;
    values[4] = cause;
    values[5] = (const char *) ts;

    values[6] = (const char *) ngx_http_sfn_owner;

    (void) ngx_http_sfn_pg_exec(
        "UPDATE sfn_executions SET status = $2, output = $3, error = $4, "
        "cause = $5, stop_date = to_timestamp($6::float8 / 1000), "
        "current_state = NULL, version = version + 1, lease_until = NULL "
        "WHERE arn = $1 AND owner = $7 AND status = 'RUNNING'",
        7, values);

    if (run->job.len) {
        values[0] = (const char *) run->job.data;
        values[2] = error;

        (void) ngx_http_sfn_pg_exec(
            "UPDATE sfn_jobs SET updated_at = now(), "
            "status = CASE WHEN status = 'RUNNING' THEN $2 ELSE status END, "
            "attributes = attributes || jsonb_build_object("
            "'executionStatus', $2::text, 'error', $3::text) "
            "WHERE job_id = $1", 3, values);
    }
}


static void
ngx_http_sfn_run_post_deferred(ngx_http_sfn_run_t *run)
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


static void
ngx_http_sfn_run_committed(void *data, void *res)
{
    ngx_http_sfn_run_t *run = data;

    run->commits--;

    if (res && ngx_http_sfn_pg_affected(res) == 0 && !run->finished) {

        /* fenced out: our lease expired and another worker resumed it */

        ngx_log_error(NGX_LOG_WARN, run->log, 0,
                      "sfn execution \"%V\" is owned elsewhere now, "
                      "dropped here", &run->name);

        run->lost = 1;
        run->finished = 1;
        ngx_http_sfn_run_cancel_tasks(run);
        ngx_http_sfn_run_stop_timers(run);

    } else if (!run->finished) {
        ngx_http_sfn_run_post_deferred(run);
    }

    if (run->finished && run->in_thread == 0 && run->commits == 0) {
        ngx_http_sfn_run_free(run);
    }
}


/*
 * The step is recorded (fenced by the owner) before its tasks are posted:
 * the tasks wait in the run until PostgreSQL has committed it.
 */

static void
ngx_http_sfn_run_commit(ngx_http_sfn_run_t *run, const char *state)
{
    char        *snapshot;
    const char  *values[4];

    /* the whole execution, so a successor resumes at this very step */

    snapshot = sfn_exec_snapshot(run->exec);

    values[0] = (const char *) run->arn.data;
    values[1] = state;
    values[2] = (const char *) ngx_http_sfn_owner;
    values[3] = snapshot;

    run->commits++;

    if (ngx_http_sfn_pg_query(
            "UPDATE sfn_executions SET current_state = $2, snapshot = $4, "
            "version = version + 1 WHERE arn = $1 AND owner = $3 "
            "AND status = 'RUNNING'", 4, values,
            ngx_http_sfn_run_committed, run)
        == NGX_ERROR)
    {
        /* the queue is full: go on without the record rather than stall */
        run->commits--;
        ngx_http_sfn_run_post_deferred(run);
    }

    free(snapshot);
}


static void
ngx_http_sfn_run_cancel_tasks(ngx_http_sfn_run_t *run)
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
        }
    }
}


static u_char *
ngx_http_sfn_keep_str(u_char *p, ngx_str_t *src, ngx_str_t *dst)
{
    dst->len = src->len;
    dst->data = NULL;

    if (src->data == NULL) {
        return p;
    }

    dst->data = p;
    p = ngx_cpymem(p, src->data, src->len);
    *p++ = '\0';

    return p;
}


static void
ngx_http_sfn_keep_last(ngx_http_sfn_run_t *run, ngx_http_sfn_record_t *rec)
{
    u_char                 *p;
    size_t                  size;
    ngx_http_sfn_record_t  *last;

    last = &ngx_http_sfn_last;
    ngx_memzero(last, sizeof(ngx_http_sfn_record_t));

    /* one buffer, reused: this runs once per synchronous execution */

    size = run->name.len + run->arn.len + rec->output.len + rec->error.len
           + rec->cause.len + 5;

    if (size > ngx_http_sfn_last_size) {
        if (ngx_http_sfn_last_buf) {
            ngx_free(ngx_http_sfn_last_buf);
        }

        ngx_http_sfn_last_size = ngx_max(size, 4096);
        ngx_http_sfn_last_buf = ngx_alloc(ngx_http_sfn_last_size, run->log);

        if (ngx_http_sfn_last_buf == NULL) {
            ngx_http_sfn_last_size = 0;
            return;
        }
    }

    p = ngx_http_sfn_last_buf;
    p = ngx_http_sfn_keep_str(p, &run->name, &last->name);
    p = ngx_http_sfn_keep_str(p, &run->arn, &last->arn);
    p = ngx_http_sfn_keep_str(p, &rec->output, &last->output);
    p = ngx_http_sfn_keep_str(p, &rec->error, &last->error);
    (void) ngx_http_sfn_keep_str(p, &rec->cause, &last->cause);

    last->machine = run->sm->name;
    last->status = rec->status;
    last->start_ms = run->start_ms;
    last->stop_ms = rec->stop_ms;
}


/*
 * The record of an execution: from this worker's last finished synchronous
 * one, else from the shared zone.
 */

ngx_int_t
ngx_http_sfn_exec_result(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *arn,
    ngx_pool_t *pool, ngx_http_sfn_record_t *rec)
{
    ngx_http_sfn_record_t  *last;

    last = &ngx_http_sfn_last;

    if (last->arn.len == arn->len && last->arn.len
        && ngx_strncmp(last->arn.data, arn->data, arn->len) == 0)
    {
        *rec = *last;
        return NGX_OK;
    }

    return ngx_http_sfn_shm_get(smcf, arn, pool, rec);
}


/* the ARN of an execution, NUL-terminated; names are unique per machine */

u_char *
ngx_http_sfn_exec_arn(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *machine,
    ngx_str_t *name, ngx_pool_t *pool, ngx_str_t *arn)
{
    u_char  *p;

    arn->len = sizeof("arn:aws:states:::execution::") - 1
               + smcf->region.len + smcf->account.len + machine->len
               + name->len;
    arn->data = ngx_pnalloc(pool, arn->len + 1);
    if (arn->data == NULL) {
        return NULL;
    }

    p = ngx_sprintf(arn->data, "arn:aws:states:%V:%V:execution:%V:%V",
                    &smcf->region, &smcf->account, machine, name);
    *p = '\0';

    return arn->data;
}


/*
 * StartSyncExecution: an Express execution whose result goes back in the
 * reply and which AWS does not let anyone describe, so it keeps no record
 * in the shared zone (and its name is not checked against others).
 */

ngx_int_t
ngx_http_sfn_exec_start_sync(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *name, ngx_str_t *input,
    ngx_str_t *arn, ngx_pool_t *pool)
{
    ngx_int_t  rc;

    ngx_http_sfn_ephemeral = 1;

    rc = ngx_http_sfn_exec_start(smcf, sm, name, input, NULL, NULL, NULL,
                                 arn, pool);

    ngx_http_sfn_ephemeral = 0;

    return rc;
}


static void
ngx_http_sfn_run_after(ngx_http_sfn_run_t *run)
{
    const char             *state;
    sfn_status_e            status;
    ngx_http_sfn_record_t   rec;

    status = sfn_exec_status(run->exec);

    if (status == SFN_RUNNING) {
        state = sfn_exec_current_state(run->exec);

        if (state && state != run->state && !run->ephemeral) {
            run->state = state;

            ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));
            rec.arn = run->arn;
            rec.status = SFN_RUNNING;
            rec.state.data = (u_char *) state;
            rec.state.len = ngx_strlen(state);

            (void) ngx_http_sfn_shm_put(run->smcf, &rec);
        }

        if (run->durable && !run->lost) {
            if (!run->inserted) {
                ngx_http_sfn_run_insert(run, SFN_RUNNING);
            }

            ngx_http_sfn_run_flush_events(run);
            ngx_http_sfn_run_commit(run, state);

        } else {
            ngx_http_sfn_run_post_deferred(run);
        }

        return;
    }

    if (!run->finished) {
        if (run->durable && !run->lost) {
            if (!run->inserted) {
                ngx_http_sfn_run_insert(run, status);
            }

            ngx_http_sfn_run_flush_events(run);
        }

        ngx_http_sfn_run_finish(run, status);
    }

    if (run->in_thread == 0 && run->commits == 0) {
        ngx_http_sfn_run_free(run);
    }
}


static ngx_http_sfn_run_t *
ngx_http_sfn_run_create(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *name, ngx_str_t *input,
    ngx_str_t *job, int64_t start_ms, const char *snapshot, ngx_log_t *log)
{
        ngx_pool_t          *pool;
    const char          *error, *cause;
    sfn_host_t           host;
    sfn_exec_conf_t      conf;
    ngx_http_sfn_run_t  *run;

    pool = ngx_http_sfn_spare_pool;

    if (pool) {
        ngx_http_sfn_spare_pool = NULL;

    } else {
        pool = ngx_create_pool(4096, ngx_cycle->log);
        if (pool == NULL) {
            return NULL;
        }
    }

    run = ngx_pcalloc(pool, sizeof(ngx_http_sfn_run_t));
    if (run == NULL) {
        goto failed;
    }

    run->pool = pool;
    run->log = ngx_cycle->log;
    run->smcf = smcf;
    run->sm = sm;
    run->start_ms = start_ms;
    run->durable = (sm->type == SFN_STANDARD
                    && smcf->database.len != 0);
    run->inserted = 1;

    ngx_rbtree_init(&run->timer_tree, &run->timer_sentinel,
                    ngx_rbtree_insert_value);
    ngx_queue_init(&run->timers);
    ngx_queue_init(&run->free_timers);
    ngx_queue_init(&run->tasks);

    if (ngx_http_sfn_pstr(pool, name, &run->name) != NGX_OK) {
        goto failed;
    }

    if (ngx_http_sfn_exec_arn(smcf, &sm->name, name, pool, &run->arn)
        == NULL)
    {
        goto failed;
    }

    if (job && job->len
        && ngx_http_sfn_pstr(pool, job, &run->job) != NGX_OK)
    {
        goto failed;
    }

    host = ngx_http_sfn_host_ops;
    host.data = run;

    if (!run->durable) {
        /* no history to keep: the engine builds no events at all */
        host.event = NULL;
    }

    ngx_memzero(&conf, sizeof(sfn_exec_conf_t));
    conf.name = (const char *) run->name.data;
    conf.arn = (const char *) run->arn.data;
    conf.state_machine_name = (const char *) sm->name.data;
    conf.state_machine_arn = (const char *) sm->arn.data;
    conf.type = sm->type;
    conf.start_ms = start_ms;

    if (snapshot && *snapshot) {
        run->exec = sfn_exec_restore(sm->machine, &host, snapshot,
                                     ngx_strlen(snapshot));
        if (run->exec == NULL) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "sfn execution \"%V\" not restored: its snapshot "
                          "does not fit state machine \"%V\"",
                          name, &sm->name);
            goto failed;
        }

        return run;
    }

    run->exec = sfn_exec_create(sm->machine, &host, &conf,
                                (const char *) input->data, input->len,
                                &error, &cause);
    if (run->exec == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "sfn execution \"%V\" not created: %s: %s",
                      name, error, cause);
        goto failed;
    }

    return run;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


ngx_int_t
ngx_http_sfn_exec_start(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *name, ngx_str_t *input,
    ngx_str_t *job, ngx_str_t *bucket, ngx_str_t *key, ngx_str_t *arn,
    ngx_pool_t *rpool)
{
    int64_t                 now;
    ngx_str_t               id;
    ngx_http_sfn_run_t     *run;
    ngx_http_sfn_record_t   rec;

    if (!ngx_http_sfn_ephemeral) {
        if (ngx_http_sfn_exec_arn(smcf, &sm->name, name, rpool, &id) == NULL)
        {
            return NGX_ERROR;
        }

        if (ngx_http_sfn_shm_get(smcf, &id, rpool, &rec) == NGX_OK) {
            return NGX_DECLINED;
        }
    }

    now = ngx_http_sfn_now_ms();

    run = ngx_http_sfn_run_create(smcf, sm, name, input, job, now, NULL,
                                  rpool->log);
    if (run == NULL) {
        return NGX_ERROR;
    }

    /* the run may end inside sfn_exec_start(): the caller gets a copy */

    arn->len = run->arn.len;
    arn->data = ngx_pstrdup(rpool, &run->arn);
    if (arn->data == NULL) {
        goto failed;
    }

    run->ephemeral = ngx_http_sfn_ephemeral;

    if (!run->ephemeral) {
        ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));
        rec.name = run->name;
        rec.arn = run->arn;
        rec.machine = sm->name;
        rec.input = *input;
        rec.durable = run->durable;
        rec.status = SFN_RUNNING;
        rec.start_ms = now;

        (void) ngx_http_sfn_shm_put(smcf, &rec);
    }

    if (run->durable) {

        /*
         * the row is written with the first step, so an execution that
         * ends within it is recorded once, already finished
         */

        if (ngx_http_sfn_pstr(run->pool, input, &run->input) != NGX_OK
            || (bucket
                && ngx_http_sfn_pstr(run->pool, bucket, &run->bucket)
                   != NGX_OK)
            || (key && ngx_http_sfn_pstr(run->pool, key, &run->key)
                       != NGX_OK))
        {
            goto failed;
        }

        run->inserted = 0;

    } else if (smcf->express_log
               && ngx_http_sfn_pstr(run->pool, input, &run->input) != NGX_OK)
    {
        goto failed;
    }

    ngx_queue_insert_tail(&ngx_http_sfn_runs, &run->queue);
    ngx_http_sfn_durable += run->durable;

    ngx_http_sfn_metrics_exec(smcf, &sm->name, SFN_RUNNING, 0);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rpool->log, 0,
                   "sfn execution \"%V\" of \"%V\" started", name, &sm->name);

    (void) sfn_exec_start(run->exec);

    ngx_http_sfn_run_after(run);

    return NGX_OK;

failed:

    sfn_exec_free(run->exec);
    ngx_destroy_pool(run->pool);

    return NGX_ERROR;
}


/*
 * Recovery.  Every worker renews the leases of the Standard executions it
 * owns and, once a second, claims executions whose lease has run out (a
 * worker killed, a reload, a restart, another node gone) with FOR UPDATE
 * SKIP LOCKED, then resumes them here.  An execution is resumed from its
 * input; its recorded history keeps the first copy of every event, and
 * tasks, being deterministic, are simply run again.
 */

static void
ngx_http_sfn_recover_row(ngx_http_sfn_main_conf_t *smcf, PGresult *res,
    int row)
{
    char                    *snapshot;
    int64_t                  start_ms;
    ngx_str_t                name, machine, input, job, arn, key, def;
    ngx_str_t                exec_arn;
    ngx_http_sfn_run_t      *run;
    ngx_http_sfn_record_t    rec;
    ngx_http_sfn_machine_t  *sm;

    name.data = (u_char *) PQgetvalue(res, row, 0);
    name.len = ngx_strlen(name.data);
    machine.data = (u_char *) PQgetvalue(res, row, 1);
    machine.len = ngx_strlen(machine.data);
    input.data = (u_char *) PQgetvalue(res, row, 2);
    input.len = ngx_strlen(input.data);
    start_ms = (int64_t) ngx_atoof((u_char *) PQgetvalue(res, row, 3),
                                   ngx_strlen(PQgetvalue(res, row, 3)));
    job.data = (u_char *) PQgetvalue(res, row, 4);
    job.len = ngx_strlen(job.data);
    snapshot = PQgetvalue(res, row, 5);
    exec_arn.data = (u_char *) PQgetvalue(res, row, 10);
    exec_arn.len = ngx_strlen(exec_arn.data);

    if (ngx_http_sfn_run_find(&exec_arn)) {
        return;
    }

    sm = ngx_http_sfn_machine_find(smcf, &machine);

    if (sm == NULL && !PQgetisnull(res, row, 9)) {

        /* a state machine created through the AWS API */

        arn.data = (u_char *) PQgetvalue(res, row, 6);
        arn.len = ngx_strlen(arn.data);
        key.data = (u_char *) PQgetvalue(res, row, 8);
        key.len = ngx_strlen(key.data);
        def.data = (u_char *) PQgetvalue(res, row, 9);
        def.len = PQgetlength(res, row, 9);

        sm = ngx_http_sfn_aws_machine_get(&machine, &arn, &key,
                 ngx_strcmp(PQgetvalue(res, row, 7), "EXPRESS") == 0
                 ? SFN_EXPRESS : SFN_STANDARD, &def, ngx_cycle->log);
    }

    if (sm == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "sfn execution \"%V\" cannot resume: state machine "
                      "\"%V\" is not configured", &name, &machine);
        return;
    }

    run = ngx_http_sfn_run_create(smcf, sm, &name, &input, &job, start_ms,
                                  snapshot, ngx_cycle->log);
    if (run == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "sfn execution \"%V\" of \"%V\" resumed %s", &name,
                  &machine, *snapshot ? "at its last step" : "from its input");

    ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));
    rec.name = run->name;
    rec.arn = run->arn;
    rec.machine = sm->name;
    rec.input = input;
    rec.durable = run->durable;
    rec.status = SFN_RUNNING;
    rec.start_ms = start_ms;

    (void) ngx_http_sfn_shm_put(smcf, &rec);

    ngx_queue_insert_tail(&ngx_http_sfn_runs, &run->queue);
    ngx_http_sfn_durable += run->durable;

    if (*snapshot == '\0') {
        (void) sfn_exec_start(run->exec);
    }

    ngx_http_sfn_run_after(run);
}


static void
ngx_http_sfn_recover_handler(void *data, void *res)
{
    ngx_http_sfn_main_conf_t *smcf = data;

    int  i, n;

    ngx_http_sfn_scanning = 0;

    if (res == NULL || ngx_exiting || ngx_terminate) {
        return;
    }

    n = PQntuples(res);

    for (i = 0; i < n; i++) {
        ngx_http_sfn_recover_row(smcf, res, i);
    }

    if (n) {
        /* a stop or a callback may have come while they had no owner */
        ngx_http_sfn_mail_poll();
    }
}


static void
ngx_http_sfn_scan_handler(ngx_event_t *ev)
{
    const char  *values[1];

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    values[0] = (const char *) ngx_http_sfn_owner;

    if (!ngx_http_sfn_scanning) {
        ngx_http_sfn_scanning = 1;

        if (ngx_http_sfn_pg_query(
                "UPDATE sfn_executions e SET owner = $1, "
                "lease_until = now() + interval '" NGX_HTTP_SFN_LEASE "', "
                "version = e.version + 1 "
                "FROM (SELECT x.arn, m.arn AS m_arn, m.type AS m_type, "
                "m.revision::text || '/' || "
                "extract(epoch FROM m.updated_at)::text AS m_key, "
                "m.definition AS m_def "
                "FROM sfn_executions x LEFT JOIN sfn_state_machines m "
                "ON m.name = x.state_machine AND m.source = 'api' "
                "WHERE x.status = 'RUNNING' AND x.type = 'STANDARD' "
                "AND (x.lease_until IS NULL OR x.lease_until < now()) "
                "ORDER BY x.start_date LIMIT " NGX_HTTP_SFN_CLAIM " "
                "FOR UPDATE OF x SKIP LOCKED) c "
                "WHERE e.arn = c.arn "
                "RETURNING e.name, e.state_machine, e.input, "
                "(extract(epoch FROM e.start_date) * 1000)::bigint, "
                "coalesce(e.job_id, ''), coalesce(e.snapshot, ''), "
                "c.m_arn, c.m_type, c.m_key, c.m_def, e.arn",
                1, values,
                ngx_http_sfn_recover_handler, ev->data)
            != NGX_OK)
        {
            ngx_http_sfn_scanning = 0;
        }
    }

    /* mail whose notification was lost: sent to an owner of the moment */

    if (ngx_http_sfn_durable) {
        ngx_http_sfn_mail_poll();
    }

    ngx_add_timer(ev, NGX_HTTP_SFN_SCAN);
}


static void
ngx_http_sfn_renew_handler(ngx_event_t *ev)
{
    const char  *values[1];

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    values[0] = (const char *) ngx_http_sfn_owner;

    /* a worker running no Standard execution holds no lease */

    if (ngx_http_sfn_durable) {
        (void) ngx_http_sfn_pg_exec(
            "UPDATE sfn_executions SET "
            "lease_until = now() + interval '" NGX_HTTP_SFN_LEASE "' "
            "WHERE owner = $1 AND status = 'RUNNING'", 1, values);
    }

    ngx_add_timer(ev, NGX_HTTP_SFN_RENEW);
}


/* at exit, blocking: hand the leases back so a successor resumes at once */

static void
ngx_http_sfn_release_leases(ngx_cycle_t *cycle)
{
    PGconn                    *conn;
    PGresult                  *res;
    const char                *values[1];
    ngx_http_sfn_main_conf_t  *smcf;
    u_char                     conninfo[2048];

    smcf = ngx_http_sfn_smcf;

    if (smcf == NULL || smcf->database.len == 0
        || smcf->database.len > sizeof(conninfo) - 32
        || ngx_queue_empty(&ngx_http_sfn_runs))
    {
        return;
    }

    ngx_sprintf(conninfo, "%V connect_timeout=2%Z", &smcf->database);

    conn = PQconnectdb((char *) conninfo);

    if (PQstatus(conn) == CONNECTION_OK) {
        values[0] = (const char *) ngx_http_sfn_owner;

        res = PQexecParams(conn,
                  "UPDATE sfn_executions SET lease_until = NULL "
                  "WHERE owner = $1 AND status = 'RUNNING'",
                  1, NULL, values, NULL, NULL, 0);
        PQclear(res);
    }

    PQfinish(conn);
}


ngx_int_t
ngx_http_sfn_pstr(ngx_pool_t *pool, ngx_str_t *src, ngx_str_t *dst)
{
    dst->len = src->len;

    if (src->data == NULL) {
        dst->data = NULL;
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(pool, src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(dst->data, src->data, src->len) = '\0';

    return NGX_OK;
}


static ngx_http_sfn_run_t *
ngx_http_sfn_run_find(ngx_str_t *arn)
{
    ngx_queue_t         *q;
    ngx_http_sfn_run_t  *run;

    for (q = ngx_queue_head(&ngx_http_sfn_runs);
         q != ngx_queue_sentinel(&ngx_http_sfn_runs);
         q = ngx_queue_next(q))
    {
        run = ngx_queue_data(q, ngx_http_sfn_run_t, queue);

        if (!run->finished && run->arn.len == arn->len
            && ngx_strncmp(run->arn.data, arn->data, arn->len) == 0)
        {
            return run;
        }
    }

    return NULL;
}


static char *
ngx_http_sfn_cstr(ngx_str_t *s)
{
    /* message strings are NUL-terminated copies; NULL stays NULL */
    return s->data ? (char *) s->data : NULL;
}


static void
ngx_http_sfn_msg_apply(ngx_http_sfn_run_t *run, ngx_http_sfn_msg_t *msg)
{
    ngx_http_sfn_task_ctx_t  *ctx;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, run->log, 0,
                   "sfn execution \"%V\" message %d task %uL",
                   &run->name, (int) msg->kind, msg->task);

    if (msg->kind == NGX_HTTP_SFN_MSG_STOP) {
        (void) sfn_exec_stop(run->exec, ngx_http_sfn_cstr(&msg->a),
                             ngx_http_sfn_cstr(&msg->b));
        ngx_http_sfn_run_after(run);
        return;
    }

    ctx = ngx_http_sfn_task_find(run, msg->task);

    if (ctx == NULL) {
        return;
    }

    switch (msg->kind) {

    case NGX_HTTP_SFN_MSG_HEARTBEAT:
        (void) sfn_exec_task_heartbeat(run->exec, msg->task);
        break;

    case NGX_HTTP_SFN_MSG_SUCCESS:
    case NGX_HTTP_SFN_MSG_FAILURE:

        ngx_http_sfn_task_forget(ctx);

        /* a thread still running for it finds itself abandoned */

        ctx->abandoned = 1;

        if (!ctx->in_thread) {
            ngx_queue_remove(&ctx->queue);
        }

        if (msg->kind == NGX_HTTP_SFN_MSG_SUCCESS) {
            (void) sfn_exec_task_succeeded(run->exec, msg->task,
                                           (char *) msg->a.data, msg->a.len);

        } else {
            (void) sfn_exec_task_failed(run->exec, msg->task,
                                        ngx_http_sfn_cstr(&msg->a),
                                        ngx_http_sfn_cstr(&msg->b));
        }

        break;

    default:
        break;
    }

    ngx_http_sfn_run_after(run);
}


static ngx_int_t
ngx_http_sfn_msg_accept(ngx_http_sfn_msg_t *msg)
{
    return ngx_http_sfn_run_find(&msg->arn) != NULL;
}


static void
ngx_http_sfn_progress_clear(ngx_http_sfn_run_t *run)
{
    ngx_http_sfn_record_t  rec;

    ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));
    rec.arn = run->arn;
    rec.status = SFN_RUNNING;
    rec.percent = -1;

    (void) ngx_http_sfn_shm_put(run->smcf, &rec);
}


static void
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

            (void) ngx_http_sfn_shm_put(run->smcf, &rec);
        }
    }
}


static void
ngx_http_sfn_poll_handler(ngx_event_t *ev)
{
    ngx_uint_t           i;
    ngx_pool_t          *pool;
    ngx_array_t          msgs;
    ngx_http_sfn_run_t  *run;
    ngx_http_sfn_msg_t  *msg;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    /* an unlocked peek: most polls find the mailbox empty */

    pool = ngx_http_sfn_shm_msg_pending(ngx_http_sfn_smcf)
           ? ngx_create_pool(4096, ev->log) : NULL;

    if (pool != NULL
        && ngx_array_init(&msgs, pool, 4, sizeof(ngx_http_sfn_msg_t))
           == NGX_OK
        && ngx_http_sfn_shm_msg_take(ngx_http_sfn_smcf,
                                     ngx_http_sfn_msg_accept,
                                     ngx_http_sfn_now_ms()
                                     - NGX_HTTP_SFN_MSG_EXPIRE,
                                     pool, &msgs))
    {
        msg = msgs.elts;

        for (i = 0; i < msgs.nelts; i++) {
            run = ngx_http_sfn_run_find(&msg[i].arn);

            if (run) {
                ngx_http_sfn_msg_apply(run, &msg[i]);
            }
        }
    }

    if (pool) {
        ngx_destroy_pool(pool);
    }

    ngx_http_sfn_progress_publish();

    if (ngx_current_msec - ngx_http_sfn_reaped >= NGX_HTTP_SFN_REAP) {
        ngx_http_sfn_reaped = ngx_current_msec;
        (void) ngx_http_sfn_shm_reap(ngx_http_sfn_smcf, 0);
    }

    ngx_add_timer(ev, NGX_HTTP_SFN_POLL);
}


/*
 * Delivers a stop or a callback to the worker that owns the execution:
 * at once when that is this worker, else through the shared mailbox,
 * which every worker polls.
 */

static ngx_int_t
ngx_http_sfn_deliver(ngx_http_sfn_main_conf_t *smcf, ngx_http_sfn_msg_t *msg)
{
    ngx_http_sfn_run_t  *run;

    run = ngx_http_sfn_run_find(&msg->arn);

    if (run) {
        ngx_http_sfn_msg_apply(run, msg);
        return NGX_OK;
    }

    msg->posted = ngx_http_sfn_now_ms();

    return ngx_http_sfn_shm_msg_post(smcf, msg);
}


/*
 * The mail of PostgreSQL (sql/004_mailbox.sql): stops and callbacks for
 * Standard executions owned here, posted by any worker of any node.  Mail
 * is deleted with the step it caused, in the same batch: if this worker
 * dies first, the next owner applies it again to the step it resumes from.
 */

static void
ngx_http_sfn_mail_rows(void *data, void *res)
{
    int                  i, n, applied;
    char                *v;
    const char          *values[1];
    ngx_http_sfn_msg_t   msg;
    ngx_http_sfn_run_t  *run;

    ngx_http_sfn_mail_polling = 0;
    applied = 0;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    n = res ? PQntuples(res) : 0;

    for (i = 0; i < n; i++) {
        ngx_memzero(&msg, sizeof(ngx_http_sfn_msg_t));

        msg.arn.data = (u_char *) PQgetvalue(res, i, 1);
        msg.arn.len = ngx_strlen(msg.arn.data);

        run = ngx_http_sfn_run_find(&msg.arn);

        if (run == NULL) {
            /* it ended: its mail goes with a later poll */
            continue;
        }

        msg.kind = ngx_atoi((u_char *) PQgetvalue(res, i, 2),
                            ngx_strlen(PQgetvalue(res, i, 2)));
        msg.task = (uint64_t) ngx_atoof((u_char *) PQgetvalue(res, i, 3),
                                        ngx_strlen(PQgetvalue(res, i, 3)));

        if (!PQgetisnull(res, i, 4)) {
            v = PQgetvalue(res, i, 4);
            msg.a.data = (u_char *) v;
            msg.a.len = PQgetlength(res, i, 4);
        }

        if (!PQgetisnull(res, i, 5)) {
            v = PQgetvalue(res, i, 5);
            msg.b.data = (u_char *) v;
            msg.b.len = PQgetlength(res, i, 5);
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "sfn execution \"%V\": mail %s",
                       &msg.arn, PQgetvalue(res, i, 0));

        ngx_http_sfn_msg_apply(run, &msg);
        applied++;

        values[0] = PQgetvalue(res, i, 0);

        (void) ngx_http_sfn_pg_exec("DELETE FROM sfn_mailbox WHERE id = $1",
                                    1, values);
    }

    /* a full page read again only if it made way: else the next tick */

    if (ngx_http_sfn_mail_again || (n == 64 && applied)) {
        ngx_http_sfn_mail_again = 0;
        ngx_http_sfn_mail_poll();
    }
}


static void
ngx_http_sfn_mail_poll(void)
{
    const char  *values[1];

    if (ngx_http_sfn_smcf == NULL || ngx_http_sfn_smcf->database.len == 0
        || ngx_exiting || ngx_terminate)
    {
        return;
    }

    if (ngx_http_sfn_mail_polling) {
        ngx_http_sfn_mail_again = 1;
        return;
    }

    values[0] = (const char *) ngx_http_sfn_owner;

    /* the mail of ended executions is dropped on the way */

    if (ngx_http_sfn_pg_query(
            "WITH gone AS (DELETE FROM sfn_mailbox m USING sfn_executions x "
            "WHERE x.arn = m.execution_arn AND x.status <> 'RUNNING') "
            "SELECT m.id, m.execution_arn, m.kind, m.task, m.a, m.b "
            "FROM sfn_mailbox m JOIN sfn_executions e "
            "ON e.arn = m.execution_arn "
            "WHERE e.owner = $1 AND e.status = 'RUNNING' "
            "ORDER BY m.id LIMIT 64",
            1, values, ngx_http_sfn_mail_rows, NULL)
        == NGX_OK)
    {
        ngx_http_sfn_mail_polling = 1;
    }
}


/* a NOTIFY on "sfn_mail" (its payload the owner), or NULL on connect */

void
ngx_http_sfn_exec_mail_notify(const char *payload)
{
    if (payload && ngx_strcmp(payload, ngx_http_sfn_owner) != 0) {
        return;
    }

    ngx_http_sfn_mail_poll();
}


/* a Standard execution in PostgreSQL, which another worker may own */

static ngx_uint_t
ngx_http_sfn_exec_durable(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *arn,
    ngx_pool_t *pool)
{
    ngx_http_sfn_record_t  rec;

    ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));

    return ngx_http_sfn_shm_get(smcf, arn, pool, &rec) == NGX_OK
           && rec.durable;
}


/*
 * NGX_OK: stopped here or posted to the worker that runs it; NGX_BUSY: it
 * has ended; NGX_DECLINED: unknown here; NGX_AGAIN: a Standard execution
 * of another worker, to be stopped through PostgreSQL (sfn_mail_post()).
 */

ngx_int_t
ngx_http_sfn_exec_stop(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *arn,
    ngx_str_t *error, ngx_str_t *cause, ngx_pool_t *pool)
{
    ngx_int_t              rc;
    ngx_http_sfn_msg_t     msg;
    ngx_http_sfn_record_t  rec;

    rc = ngx_http_sfn_shm_get(smcf, arn, pool, &rec);

    if (rc != NGX_OK) {
        return rc;
    }

    if (rec.status != SFN_RUNNING) {
        return NGX_BUSY;
    }

    if (rec.durable && ngx_http_sfn_run_find(arn) == NULL) {
        return NGX_AGAIN;
    }

    if (!rec.durable
        && ngx_http_sfn_run_find(arn) == NULL
        && ngx_http_sfn_shm_reap(smcf, 0) != 0
        && ngx_http_sfn_shm_get(smcf, arn, pool, &rec) == NGX_OK
        && rec.status != SFN_RUNNING)
    {
        /* its worker is gone, and it ended there */
        return NGX_BUSY;
    }

    ngx_memzero(&msg, sizeof(ngx_http_sfn_msg_t));

    msg.kind = NGX_HTTP_SFN_MSG_STOP;

    if (ngx_http_sfn_pstr(pool, arn, &msg.arn) != NGX_OK
        || ngx_http_sfn_pstr(pool, error, &msg.a) != NGX_OK
        || ngx_http_sfn_pstr(pool, cause, &msg.b) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_sfn_deliver(smcf, &msg);
}


/*
 * Calls handler once when the execution, running in this worker, finishes;
 * NGX_DECLINED when it is not running here (it may have finished already,
 * even inside ngx_http_sfn_exec_start()).  A NULL handler unregisters.
 */

ngx_int_t
ngx_http_sfn_exec_on_finish(ngx_str_t *arn, ngx_http_sfn_finish_pt handler,
    void *data)
{
    ngx_http_sfn_run_t  *run;

    run = ngx_http_sfn_run_find(arn);

    if (run == NULL) {
        return NGX_DECLINED;
    }

    run->on_finish = handler;
    run->on_finish_data = data;

    return NGX_OK;
}


ngx_int_t
ngx_http_sfn_task_callback(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_msg_kind_e kind, ngx_str_t *token, ngx_str_t *a,
    ngx_str_t *b, ngx_pool_t *pool)
{
    ngx_int_t           rc;
    ngx_http_sfn_msg_t  msg;

    ngx_memzero(&msg, sizeof(ngx_http_sfn_msg_t));

    msg.kind = kind;

    rc = ngx_http_sfn_shm_token_get(smcf, token, pool, &msg.arn, &msg.task);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_sfn_run_find(&msg.arn) == NULL
        && ngx_http_sfn_exec_durable(smcf, &msg.arn, pool))
    {
        /* PostgreSQL answers for the token: sfn_token_answer() */
        return NGX_AGAIN;
    }

    if (ngx_http_sfn_pstr(pool, a, &msg.a) != NGX_OK
        || ngx_http_sfn_pstr(pool, b, &msg.b) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (kind != NGX_HTTP_SFN_MSG_HEARTBEAT
        && ngx_http_sfn_shm_token_close(smcf, token) != NGX_OK)
    {
        /* another SendTask* for the same token got there first */
        return NGX_BUSY;
    }

    return ngx_http_sfn_deliver(smcf, &msg);
}


ngx_int_t
ngx_http_sfn_exec_init_process(ngx_cycle_t *cycle)
{
    ngx_queue_init(&ngx_http_sfn_runs);

    ngx_explicit_memzero(ngx_http_sfn_random_pool,
                         sizeof(ngx_http_sfn_random_pool));
    ngx_http_sfn_random_left = 0;

    ngx_http_sfn_smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                        ngx_http_sfn_module);

    ngx_http_sfn_poll_ev.handler = ngx_http_sfn_poll_handler;
    ngx_http_sfn_poll_ev.log = cycle->log;
    ngx_http_sfn_poll_ev.data = ngx_http_sfn_smcf;
    ngx_http_sfn_poll_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_sfn_poll_ev, NGX_HTTP_SFN_POLL);

    *ngx_sprintf(ngx_http_sfn_owner, "%V:%P", &cycle->hostname, ngx_pid)
        = '\0';

    if (ngx_http_sfn_smcf->database.len) {
        ngx_http_sfn_renew_ev.handler = ngx_http_sfn_renew_handler;
        ngx_http_sfn_renew_ev.log = cycle->log;
        ngx_http_sfn_renew_ev.data = ngx_http_sfn_smcf;
        ngx_http_sfn_renew_ev.cancelable = 1;

        ngx_http_sfn_scan_ev.handler = ngx_http_sfn_scan_handler;
        ngx_http_sfn_scan_ev.log = cycle->log;
        ngx_http_sfn_scan_ev.data = ngx_http_sfn_smcf;
        ngx_http_sfn_scan_ev.cancelable = 1;

        ngx_add_timer(&ngx_http_sfn_renew_ev, NGX_HTTP_SFN_RENEW);

        /* workers start together: spread their first scans */
        ngx_add_timer(&ngx_http_sfn_scan_ev,
                      100 + (ngx_pid % 10) * 50);
    }

    return NGX_OK;
}


void
ngx_http_sfn_exec_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t              *q, *tq;
    ngx_http_sfn_run_t       *run;
    ngx_http_sfn_task_ctx_t  *ctx;

    if (ngx_http_sfn_runs.next == NULL) {
        return;
    }

    ngx_http_sfn_release_leases(cycle);

    /* an Express execution dies with its worker: its record says so */
    (void) ngx_http_sfn_shm_reap(ngx_http_sfn_smcf, ngx_pid);

    /* running transcodes notice the flag and return within a second */

    for (q = ngx_queue_head(&ngx_http_sfn_runs);
         q != ngx_queue_sentinel(&ngx_http_sfn_runs);
         q = ngx_queue_next(q))
    {
        run = ngx_queue_data(q, ngx_http_sfn_run_t, queue);

        for (tq = ngx_queue_head(&run->tasks);
             tq != ngx_queue_sentinel(&run->tasks);
             tq = ngx_queue_next(tq))
        {
            ctx = ngx_queue_data(tq, ngx_http_sfn_task_ctx_t, queue);
            ctx->cancel = 1;
        }
    }
}
