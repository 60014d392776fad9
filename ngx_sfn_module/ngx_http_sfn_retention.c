
/*
 * Copyright (C) ngx_sfn authors
 *
 * Retention (sfn_retention): closed executions are deleted some time after
 * they stopped, with their history, payloads, tokens and mail, and job
 * rows after a time of their own.  Every worker has a timer; at each turn
 * it drops the expired records of the shared zone, then asks PostgreSQL
 * for one batch of sfn_retention_sweep() (sql/007_retention.sql) through
 * a non-blocking connection of its own (the sweeper, ngx_http_sfn_pg.c),
 * so that no statement of the worker's writer waits behind a batch.  A
 * batch is one transaction of a bounded number of rows, under an advisory
 * lock that one session holds at a time; a worker that does not get it
 * waits for its next turn.  A batch should take PostgreSQL about 20 ms:
 * its locks, its WAL and its commit weigh on the other sessions for that
 * long at most; the number of rows of the next one follows from the time
 * the last one took.  While rows past retention remain, the next batch
 * comes after a pause as long as the last one took from its queueing to
 * its commit, so retention takes at most about half of one backend.
 *
 * Once a round of batches is over, the worker that deleted rows runs a
 * plain VACUUM of the tables it deleted from, on the same connection,
 * and another at its next turn: the first makes the rows' space free for
 * the next ones and deletes the index pages it empties, the second
 * recycles those pages, which PostgreSQL reuses only once no transaction
 * older than their deletion remains (sql/015_retention_vacuum.sql).  A
 * transaction id taken after the first is what shows that none does: on
 * an idle database no other session may take one before the second.
 *
 * Before its rows, a call takes one step of the partitions' upkeep
 * (sql/018_partitions.sql): a range of start dates whose executions have
 * all expired is detached, then dropped, its files unlinked, with no
 * VACUUM owed; or a step of making the next range ahead of the starts.
 * A step that deleted nothing (the making of a range, a detach, or a lock
 * not had within the short lock_timeout the steps take) is followed by
 * the next after a second.
 */


#include "ngx_http_sfn_module.h"

#include <libpq-fe.h>


#define NGX_HTTP_SFN_RETENTION_ROWS     1000    /* the first batch */
#define NGX_HTTP_SFN_RETENTION_MIN      100
#define NGX_HTTP_SFN_RETENTION_MAX      10000
#define NGX_HTTP_SFN_RETENTION_TARGET   20      /* ms, a batch */
#define NGX_HTTP_SFN_RETENTION_RECORDS  1000    /* of the zone, a turn */
#define NGX_HTTP_SFN_RETENTION_PAUSE    10      /* ms, at least */
#define NGX_HTTP_SFN_RETENTION_TURN     60000   /* ms, at most */
#define NGX_HTTP_SFN_RETENTION_STEP     1000    /* ms, partitions' upkeep */


typedef struct {
    ngx_event_t                  timer;
    ngx_http_sfn_main_conf_t    *smcf;
    ngx_msec_t                   turn;
    ngx_msec_t                   asked;     /* when the batch was queued */
    ngx_uint_t                   batch;     /* rows */
    const char                  *vacuum;    /* the tables swept */
    char                         keep[NGX_INT64_LEN + 1];
    char                         jobs[NGX_INT64_LEN + 1];
    char                         rows[NGX_INT64_LEN + 1];
    unsigned                     busy:1;    /* a batch or VACUUM queued */
    unsigned                     swept:1;   /* deleted since a VACUUM */
    unsigned                     recycle:1; /* the next turn: VACUUM */
} ngx_http_sfn_retention_t;


static void ngx_http_sfn_retention_handler(ngx_event_t *ev);
static void ngx_http_sfn_retention_done(void *data, void *res);
static void ngx_http_sfn_retention_vacuum(ngx_http_sfn_retention_t *rt,
    ngx_uint_t first);
static void ngx_http_sfn_retention_vacuumed(void *data, void *res);


static ngx_http_sfn_retention_t  ngx_http_sfn_retention_ctx;


/* sfn_retention off | TIME [jobs=TIME|off] */

char *
ngx_http_sfn_retention(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_main_conf_t *smcf = conf;

    ngx_int_t   ms;
    ngx_str_t  *value, s;

    if (smcf->retention != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    smcf->retention_jobs = 0;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        smcf->retention = 0;

        if (cf->args->nelts > 2) {
            return "takes no parameters after \"off\"";
        }

        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&value[1], 0);

    if (ms == NGX_ERROR || ms < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid retention \"%V\": a time of at least "
                           "1s, as \"90d\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    smcf->retention = (ngx_msec_t) ms;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "jobs=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    s.data = value[2].data + 5;
    s.len = value[2].len - 5;

    if (s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0) {
        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&s, 0);

    if (ms == NGX_ERROR || ms < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid jobs retention \"%V\": a time of at "
                           "least 1s, or off", &s);
        return NGX_CONF_ERROR;
    }

    smcf->retention_jobs = (ngx_msec_t) ms;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_sfn_retention_init_process(ngx_cycle_t *cycle,
    ngx_http_sfn_main_conf_t *smcf)
{
    ngx_http_sfn_retention_t  *rt = &ngx_http_sfn_retention_ctx;

    ngx_memzero(rt, sizeof(ngx_http_sfn_retention_t));

    if (smcf->retention == 0 || smcf->database.len == 0) {
        return NGX_OK;
    }

    rt->smcf = smcf;

    /*
     * an execution outlives its retention by a turn at most: a tenth of
     * the retention, a second to a minute
     */

    rt->turn = ngx_max(ngx_min(smcf->retention / 10,
                               NGX_HTTP_SFN_RETENTION_TURN), 1000);

    ngx_sprintf((u_char *) rt->keep, "%M%Z", smcf->retention);
    rt->batch = NGX_HTTP_SFN_RETENTION_ROWS;

    /*
     * SKIP_LOCKED: a table that another VACUUM holds (autovacuum's,
     * another node's) is left to it; TRUNCATE false: cutting the empty
     * end of a file takes a lock that stops every read of the table
     */

    rt->vacuum = "VACUUM (SKIP_LOCKED, TRUNCATE false) sfn_executions, "
                 "sfn_history, sfn_payloads, sfn_tokens, sfn_mailbox";

    if (smcf->retention_jobs) {
        ngx_sprintf((u_char *) rt->jobs, "%M%Z", smcf->retention_jobs);

        rt->vacuum = "VACUUM (SKIP_LOCKED, TRUNCATE false) sfn_executions, "
                     "sfn_history, sfn_payloads, sfn_tokens, sfn_mailbox, "
                     "sfn_jobs";
    }

    rt->timer.handler = ngx_http_sfn_retention_handler;
    rt->timer.data = smcf;   /* a connection's size, for the debug log */
    rt->timer.log = cycle->log;
    rt->timer.cancelable = 1;

    /* the workers' turns spread over one turn */

    ngx_add_timer(&rt->timer, rt->turn * (ngx_worker + 1)
                              / (ngx_worker + 2));

    return NGX_OK;
}


static void
ngx_http_sfn_retention_handler(ngx_event_t *ev)
{
    ngx_http_sfn_retention_t *rt = &ngx_http_sfn_retention_ctx;

    ngx_uint_t   n;
    const char  *values[3];

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    n = ngx_http_sfn_shm_expire(rt->smcf,
                                ngx_http_sfn_now_ms()
                                - (int64_t) rt->smcf->retention,
                                NGX_HTTP_SFN_RETENTION_RECORDS);

    if (n) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "sfn retention: %ui records left the zone", n);
    }

    /* a writer behind on its work is not given more */

    if (rt->busy || ngx_http_sfn_pg_busy() == NGX_BUSY) {
        ngx_add_timer(&rt->timer, rt->turn);
        return;
    }

    if (rt->recycle) {
        rt->recycle = 0;
        ngx_http_sfn_retention_vacuum(rt, 0);
        return;
    }

    ngx_sprintf((u_char *) rt->rows, "%ui%Z", rt->batch);

    values[0] = rt->keep;
    values[1] = rt->jobs[0] ? rt->jobs : NULL;
    values[2] = rt->rows;

    rt->asked = ngx_current_msec;

    if (ngx_http_sfn_pg_sweep(
            "SELECT executions, deleted, more, took, dropped "
            "FROM sfn_retention_sweep("
            "$1::bigint * interval '1 millisecond', "
            "$2::bigint * interval '1 millisecond', $3::int)",
            3, values, ngx_http_sfn_retention_done, rt)
        != NGX_OK)
    {
        ngx_add_timer(&rt->timer, rt->turn);
        return;
    }

    rt->busy = 1;
}


static void
ngx_http_sfn_retention_done(void *data, void *res)
{
    ngx_http_sfn_retention_t *rt = data;

    u_char      *v;
    double       ms;
    ngx_int_t    executions, rows;
    ngx_msec_t   took;

    rt->busy = 0;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    if (res == NULL || PQntuples(res) != 1) {
        /* the statement failed, and said why in the log */
        ngx_add_timer(&rt->timer, rt->turn);
        return;
    }

    v = (u_char *) PQgetvalue(res, 0, 0);
    executions = ngx_atoi(v, ngx_strlen(v));

    if (executions < 0) {
        /* another worker or node sweeps */
        ngx_add_timer(&rt->timer, rt->turn);
        return;
    }

    v = (u_char *) PQgetvalue(res, 0, 1);
    rows = ngx_atoi(v, ngx_strlen(v));

    ms = strtod(PQgetvalue(res, 0, 3), NULL);

    if (rows > 0) {

        /* a range dropped leaves nothing to VACUUM */

        if (PQgetvalue(res, 0, 4)[0] != 't') {
            rt->swept = 1;
        }

        ngx_http_sfn_metrics_retention(rt->smcf, (ngx_uint_t) executions,
                                       (ngx_uint_t) rows);

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, rt->timer.log, 0,
                       "sfn retention: %i executions, %i rows deleted "
                       "in %.1f ms, batch of %ui", executions, rows, ms,
                       rt->batch);
    }

    if (PQgetvalue(res, 0, 2)[0] != 't') {

        /* the round is over */

        if (rt->swept) {
            rt->swept = 0;
            rt->recycle = 1;
            ngx_http_sfn_retention_vacuum(rt, 1);
            return;
        }

        ngx_add_timer(&rt->timer, rt->turn);
        return;
    }

    if (PQgetvalue(res, 0, 4)[0] == 't') {
        /* a range dropped: the next step at once */
        ngx_add_timer(&rt->timer, NGX_HTTP_SFN_RETENTION_PAUSE);
        return;
    }

    if (rows == 0) {
        /* a step of the partitions' upkeep, or a lock not had: a while */
        ngx_add_timer(&rt->timer, ngx_min(rt->turn,
                                          NGX_HTTP_SFN_RETENTION_STEP));
        return;
    }

    /* a full batch sizes the next one: about the target's time */

    if (ms > 2 * NGX_HTTP_SFN_RETENTION_TARGET) {
        rt->batch = ngx_max(rt->batch / 2, NGX_HTTP_SFN_RETENTION_MIN);

    } else if (ms < NGX_HTTP_SFN_RETENTION_TARGET / 2) {
        rt->batch = ngx_min(rt->batch * 2, NGX_HTTP_SFN_RETENTION_MAX);
    }

    took = ngx_current_msec - rt->asked;

    ngx_add_timer(&rt->timer, ngx_max(took, NGX_HTTP_SFN_RETENTION_PAUSE));
}


static void
ngx_http_sfn_retention_vacuum(ngx_http_sfn_retention_t *rt,
    ngx_uint_t first)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rt->timer.log, 0,
                   "sfn retention: %s", rt->vacuum);

    rt->asked = ngx_current_msec;

    if (ngx_http_sfn_pg_sweep(rt->vacuum, 0, NULL,
                              ngx_http_sfn_retention_vacuumed, rt)
        != NGX_OK
        || (first
            && ngx_http_sfn_pg_sweep("SELECT pg_current_xact_id()", 0, NULL,
                                     NULL, NULL)
               != NGX_OK))
    {
        rt->swept = 1;
        rt->recycle = 0;
        ngx_add_timer(&rt->timer, rt->turn);
        return;
    }

    rt->busy = 1;
}


static void
ngx_http_sfn_retention_vacuumed(void *data, void *res)
{
    ngx_http_sfn_retention_t *rt = data;

    rt->busy = 0;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    if (res == NULL) {
        /* it failed, and said why in the log: again after the next round */
        rt->swept = 1;
        rt->recycle = 0;
        ngx_add_timer(&rt->timer, rt->turn);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rt->timer.log, 0,
                   "sfn retention: VACUUM took %M ms",
                   ngx_current_msec - rt->asked);

    /* after the second, the turn's batch */

    ngx_add_timer(&rt->timer, rt->recycle ? rt->turn
                                          : NGX_HTTP_SFN_RETENTION_PAUSE);
}
