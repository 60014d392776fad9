
/*
 * Copyright (C) ngx_sfn authors
 *
 * The mailbox: stops and task callbacks delivered to the worker that owns
 * the execution, at once when that is this worker, else through the shared
 * zone (polled by every worker) or, for Standard executions owned by
 * another worker or node, through PostgreSQL mail and NOTIFY.
 */


#include "ngx_http_sfn_exec.h"

#include <libpq-fe.h>


#define NGX_HTTP_SFN_POLL          50
#define NGX_HTTP_SFN_REAP          1000
#define NGX_HTTP_SFN_MSG_EXPIRE    30000


static ngx_event_t                ngx_http_sfn_poll_ev;
static ngx_uint_t                 ngx_http_sfn_mail_polling;
static ngx_uint_t                 ngx_http_sfn_mail_again;
static ngx_msec_t                 ngx_http_sfn_reaped;


void
ngx_http_sfn_msg_apply(ngx_http_sfn_run_t *run, ngx_http_sfn_msg_t *msg)
{
    ngx_http_sfn_task_ctx_t  *ctx;

    /* with no memory to hold it, it is applied rather than lost */

    if (ngx_http_sfn_run_paced(run)
        && ngx_http_sfn_run_hold(run, NULL, msg) == NGX_OK)
    {
        return;
    }

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

    case NGX_HTTP_SFN_MSG_STARTED:
        if (!ctx->taken) {
            ctx->taken = 1;
            (void) sfn_exec_task_started(run->exec, msg->task,
                                         ngx_http_sfn_cstr(&msg->a));
        }

        break;

    case NGX_HTTP_SFN_MSG_REFUSED:
        ngx_http_sfn_task_forget(ctx);
        ctx->abandoned = 1;
        ngx_queue_remove(&ctx->queue);

        (void) sfn_exec_task_refused(run->exec, msg->task,
                                     ngx_http_sfn_cstr(&msg->a),
                                     ngx_http_sfn_cstr(&msg->b));
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

        if (ngx_http_sfn_run_paced(run)) {
            /* read again once its step is recorded, and deleted with it */
            run->mail_waits = 1;
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

        /*
         * with no memory for it, the mail stays and is applied again by
         * this run or a successor: callbacks of a task already answered
         * and stops of a run already stopping are ignored
         */

        (void) ngx_http_sfn_pg_record("DELETE FROM sfn_mailbox "
                                      "WHERE id = $1", 1, values,
                                      NULL, NULL);
    }

    /* a full page read again only if it made way: else the next tick */

    if (ngx_http_sfn_mail_again || (n == 64 && applied)) {
        ngx_http_sfn_mail_again = 0;
        ngx_http_sfn_mail_poll();
    }
}


void
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

    if (ngx_http_sfn_run_find(arn) == NULL) {

        if (rec.durable) {
            return NGX_AGAIN;
        }

        /* an Express one whose worker is gone ended there: say so now */

        if (rec.owner != ngx_pid
            && kill(rec.owner, 0) == -1 && ngx_errno == NGX_ESRCH
            && ngx_http_sfn_shm_reap(smcf, rec.owner) != 0)
        {
            return NGX_BUSY;
        }
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


ngx_int_t
ngx_http_sfn_task_callback(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_msg_kind_e kind, ngx_str_t *token, ngx_str_t *a,
    ngx_str_t *b, ngx_pool_t *pool)
{
    ngx_int_t                 rc;
    ngx_http_sfn_msg_t        msg;
    ngx_http_sfn_run_t       *run;
    ngx_http_sfn_task_ctx_t  *ctx;

    ngx_memzero(&msg, sizeof(ngx_http_sfn_msg_t));

    msg.kind = kind;

    rc = ngx_http_sfn_shm_token_get(smcf, token, pool, &msg.arn, &msg.task);

    if (rc != NGX_OK) {
        return rc;
    }

    run = ngx_http_sfn_run_find(&msg.arn);

    if (run == NULL && ngx_http_sfn_exec_durable(smcf, &msg.arn, pool)) {
        /* PostgreSQL answers for the token: sfn_token_answer() */
        return NGX_AGAIN;
    }

    ctx = run ? ngx_http_sfn_task_find(run, msg.task) : NULL;

    if (ctx && ctx->activity && !ctx->taken) {
        /* after the mail that it was taken (ActivityStarted), in order */
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


void
ngx_http_sfn_mail_init(ngx_cycle_t *cycle)
{
    ngx_http_sfn_poll_ev.handler = ngx_http_sfn_poll_handler;
    ngx_http_sfn_poll_ev.log = cycle->log;
    ngx_http_sfn_poll_ev.data = ngx_http_sfn_smcf;
    ngx_http_sfn_poll_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_sfn_poll_ev, NGX_HTTP_SFN_POLL);
}
