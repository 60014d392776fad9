
/*
 * Copyright (C) ngx_sfn authors
 *
 * PostgreSQL: migrations at start (blocking, in the master, under an
 * advisory lock), and a per-worker writer that runs libpq non-blocking in
 * the event loop.  Statements queued during one event-loop iteration go out
 * together in pipeline mode and commit as one implicit transaction (group
 * commit).  A broken connection is re-established on a timer and the
 * statements whose transaction did not commit are sent again, so writes are
 * at least once; the schema makes them idempotent.  The connection listens
 * on the channels "sfn_mail" for the executions' mail (sql/004_mailbox.sql)
 * and "sfn_activity" for activities' tasks (sql/013_activities.sql).
 * Statements read often (the API's pages) are prepared on it once and
 * executed by name.  Two more connections work the same way: the reader,
 * for reads that need not follow this worker's writes (a describe of an
 * execution the zone does not hold), so that they never wait for a
 * commit; the sweeper, for retention (sfn_retention), so that a batch of
 * deletions never holds the writer's queue.
 */


#include "ngx_http_sfn_module.h"

#include <libpq-fe.h>
#include <sys/ioctl.h>


#define NGX_HTTP_SFN_PG_LOCK        0x73666e00    /* "sfn\0" */
#define NGX_HTTP_SFN_PG_RECONNECT   1000
#define NGX_HTTP_SFN_PG_MAX_QUEUE   100000
#define NGX_HTTP_SFN_PG_MAX_BATCH   512

#define NGX_HTTP_SFN_PG_ALONE       1   /* a transaction of its own */
#define NGX_HTTP_SFN_PG_RECORD      2   /* of an acknowledged execution */


typedef struct {
    const char  *name;
    const char  *sql;
} ngx_http_sfn_sql_migration_t;

extern const ngx_http_sfn_sql_migration_t  sfn_sql_migrations[];


typedef struct {
    ngx_queue_t                  queue;
    const char                  *sql;
    ngx_http_sfn_pg_handler_pt   handler;
    void                        *data;
    PGresult                    *res;
    ngx_http_sfn_pg_prepared_t  *prepared;
    size_t                       size;
    int                          nparams;
    unsigned                     failed:1;
    unsigned                     alone:1;   /* a transaction of its own */
    unsigned                     preparing:1;  /* its PREPARE's result next */
    char                        *values[1];
} ngx_http_sfn_pg_stmt_t;


typedef enum {
    ngx_http_sfn_pg_closed = 0,
    ngx_http_sfn_pg_connecting,
    ngx_http_sfn_pg_ready
} ngx_http_sfn_pg_state_e;


typedef struct {
    PGconn                      *conn;
    ngx_connection_t            *c;
    ngx_http_sfn_pg_state_e      state;
    ngx_queue_t                  pending;
    ngx_queue_t                  sent;      /* awaiting results */
    ngx_queue_t                  batch;     /* results of the current sync */
    ngx_uint_t                   queued;
    size_t                       bytes;     /* of the queued statements */
    size_t                       limit;
    ngx_uint_t                   syncs;     /* syncs awaiting their result */
    ngx_event_t                  flush;
    ngx_event_t                  reconnect;
    ngx_log_t                   *log;
    ngx_str_t                    conninfo;
    ngx_atomic_t                *gauge;     /* connected, in the metrics */
    ngx_uint_t                   generation;    /* of this connection */
    ngx_msec_t                   since;     /* connected at */
    const char                  *name;      /* in the log */
    const char                  *setup;     /* its first transaction */
    unsigned                     mail:1;    /* the writer: LISTEN sfn_mail */
    unsigned                     listen:1;  /* setup's result is awaited */
    unsigned                     batch_failed:1;
    unsigned                     exiting:1;
    unsigned                     busy:1;    /* episodes, each logged once */
    unsigned                     full:1;
    unsigned                     lost:1;    /* a connection, or a connect */
} ngx_http_sfn_pg_t;


static void ngx_http_sfn_pg_connect(ngx_event_t *ev);
static void ngx_http_sfn_pg_close(ngx_http_sfn_pg_t *pg, ngx_uint_t retry);
static void ngx_http_sfn_pg_read_handler(ngx_event_t *ev);
static void ngx_http_sfn_pg_write_handler(ngx_event_t *ev);
static void ngx_http_sfn_pg_flush_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_sfn_pg_poll_connect(ngx_http_sfn_pg_t *pg);
static ngx_int_t ngx_http_sfn_pg_send(ngx_http_sfn_pg_t *pg);
static ngx_int_t ngx_http_sfn_pg_receive(ngx_http_sfn_pg_t *pg);
static ngx_int_t ngx_http_sfn_pg_receive_once(ngx_http_sfn_pg_t *pg);
static ngx_int_t ngx_http_sfn_pg_init(ngx_http_sfn_pg_t *pg,
    ngx_cycle_t *cycle, ngx_http_sfn_main_conf_t *smcf);
static void ngx_http_sfn_pg_exit(ngx_http_sfn_pg_t *pg, ngx_cycle_t *cycle);
static ngx_int_t ngx_http_sfn_pg_by_name(ngx_http_sfn_pg_t *pg,
    ngx_http_sfn_pg_prepared_t *ps, int nparams, const char *const *values,
    ngx_http_sfn_pg_handler_pt handler, void *data);
static ngx_int_t ngx_http_sfn_pg_queue(ngx_http_sfn_pg_t *pg,
    const char *sql, int nparams, const char *const *values,
    ngx_http_sfn_pg_handler_pt handler, void *data, ngx_uint_t flags);
static void ngx_http_sfn_pg_dequeued(ngx_http_sfn_pg_t *pg,
    ngx_http_sfn_pg_stmt_t *st);


static ngx_http_sfn_pg_t  ngx_http_sfn_pg;
static ngx_http_sfn_pg_t  ngx_http_sfn_pg_reader;
static ngx_http_sfn_pg_t  ngx_http_sfn_pg_sweeper;

/* connections made by this process, whichever: a prepared one's */
static ngx_uint_t         ngx_http_sfn_pg_generation;


static ngx_int_t
ngx_http_sfn_pg_command(PGconn *conn, const char *sql, int nparams,
    const char *const *values, ngx_log_t *log)
{
    PGresult        *res;
    ExecStatusType   st;

    /* a migration holds several statements: only PQexec() takes those */

    res = (nparams == 0) ? PQexec(conn, sql)
                         : PQexecParams(conn, sql, nparams, NULL, values,
                                        NULL, NULL, 0);
    st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "sfn database: \"%.40s...\" failed: %s",
                      sql, PQresultErrorMessage(res));
        PQclear(res);
        return NGX_ERROR;
    }

    st = (PQntuples(res) > 0) ? 1 : 0;
    PQclear(res);

    return st ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_sfn_pg_notice(void *arg, const char *message)
{
    ngx_log_t  *log = arg;

    /* "relation ... already exists, skipping" and the like */

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0, "sfn database: %s", message);
}


ngx_int_t
ngx_http_sfn_pg_migrate(ngx_http_sfn_main_conf_t *smcf, ngx_log_t *log)
{
    PGconn                        *conn;
    ngx_int_t                      rc;
    ngx_uint_t                     i;
    const char                    *values[4];
    ngx_http_sfn_machine_t        *sm;
    const ngx_http_sfn_sql_migration_t  *m;
    u_char                         conninfo[1024];

    ngx_cpystrn(conninfo, smcf->database.data,
                ngx_min(smcf->database.len + 1, sizeof(conninfo)));

    conn = PQconnectdb((char *) conninfo);

    if (PQstatus(conn) != CONNECTION_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "sfn database \"%V\": connection failed: %s",
                      &smcf->database, PQerrorMessage(conn));
        PQfinish(conn);
        return NGX_ERROR;
    }

    PQsetNoticeProcessor(conn, ngx_http_sfn_pg_notice, log);

    rc = NGX_ERROR;

    /* several masters (nodes, a binary upgrade) may start at once */

    if (ngx_http_sfn_pg_command(conn, "SELECT pg_advisory_lock(1936092672)",
                                0, NULL, log)
        == NGX_ERROR)
    {
        goto done;
    }

    if (ngx_http_sfn_pg_command(conn,
            "CREATE TABLE IF NOT EXISTS sfn_migrations ("
            "name text PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL, log)
        == NGX_ERROR)
    {
        goto unlock;
    }

    for (m = sfn_sql_migrations; m->name; m++) {
        values[0] = m->name;

        rc = ngx_http_sfn_pg_command(conn,
                 "SELECT 1 FROM sfn_migrations WHERE name = $1", 1, values,
                 log);

        if (rc == NGX_ERROR) {
            goto unlock;
        }

        if (rc == NGX_OK) {
            continue;
        }

        rc = NGX_ERROR;

        if (ngx_http_sfn_pg_command(conn, "BEGIN", 0, NULL, log) == NGX_ERROR)
        {
            goto unlock;
        }

        if (ngx_http_sfn_pg_command(conn, m->sql, 0, NULL, log) == NGX_ERROR
            || ngx_http_sfn_pg_command(conn,
                   "INSERT INTO sfn_migrations (name) VALUES ($1)",
                   1, values, log) == NGX_ERROR
            || ngx_http_sfn_pg_command(conn, "COMMIT", 0, NULL, log)
               == NGX_ERROR)
        {
            goto rollback;
        }

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "sfn database: applied migration \"%s\"", m->name);
    }

    sm = smcf->machines.elts;

    for (i = 0; i < smcf->machines.nelts; i++) {
        /* both are NUL-terminated (ngx_pstrdup() would not be) */
        values[0] = (char *) sm[i].name.data;
        values[1] = (char *) sm[i].arn.data;
        values[2] = (sm[i].type == SFN_EXPRESS) ? "EXPRESS" : "STANDARD";
        values[3] = (char *) sm[i].definition.data;

        if (values[0] == NULL || values[1] == NULL) {
            goto unlock;
        }

        if (ngx_http_sfn_pg_command(conn,
                "INSERT INTO sfn_state_machines "
                "(name, arn, type, definition, source) "
                "VALUES ($1, $2, $3, $4, 'config') "
                "ON CONFLICT (name) DO UPDATE SET arn = $2, type = $3, "
                "definition = $4, updated_at = now() "
                "WHERE sfn_state_machines.definition <> $4 "
                "OR sfn_state_machines.type <> $3", 4, values, log)
            == NGX_ERROR)
        {
            goto unlock;
        }
    }

    rc = NGX_OK;

    goto unlock;

rollback:

    (void) ngx_http_sfn_pg_command(conn, "ROLLBACK", 0, NULL, log);

unlock:

    (void) ngx_http_sfn_pg_command(conn,
                                   "SELECT pg_advisory_unlock(1936092672)",
                                   0, NULL, log);

done:

    PQfinish(conn);

    return rc;
}


ngx_int_t
ngx_http_sfn_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_sfn_main_conf_t *smcf)
{
    ngx_http_sfn_pg_t  *pg, *rd, *sw;

    pg = &ngx_http_sfn_pg;
    rd = &ngx_http_sfn_pg_reader;
    sw = &ngx_http_sfn_pg_sweeper;

    ngx_memzero(pg, sizeof(ngx_http_sfn_pg_t));
    ngx_memzero(rd, sizeof(ngx_http_sfn_pg_t));
    ngx_memzero(sw, sizeof(ngx_http_sfn_pg_t));

    /*
     * LISTEN is the writer's first transaction; mail posted while it was
     * down is found by the poll queued after it
     */

    pg->mail = 1;
    pg->name = "";
    /* one statement: the extended protocol takes no more */
    pg->setup = "DO $$BEGIN LISTEN sfn_mail; LISTEN sfn_activity; END$$";
    pg->gauge = ngx_http_sfn_metrics_connections(cycle, 0);

    rd->name = " (reader)";
    rd->gauge = ngx_http_sfn_metrics_connections(cycle, 3);

    if (ngx_http_sfn_pg_init(pg, cycle, smcf) != NGX_OK
        || ngx_http_sfn_pg_init(rd, cycle, smcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (smcf->retention == 0) {
        return NGX_OK;
    }

    /*
     * a batch's commit need not wait for its WAL to reach the disk: a
     * batch lost in a crash is swept again, and the flushes that other
     * sessions' commits wait for come no more often for it; its VACUUM
     * goes at autovacuum's pace (sql/015_retention_vacuum.sql)
     */

    sw->name = " (retention)";
    sw->setup = "SELECT sfn_retention_session()";
    sw->gauge = ngx_http_sfn_metrics_connections(cycle, 2);

    return ngx_http_sfn_pg_init(sw, cycle, smcf);
}


static ngx_int_t
ngx_http_sfn_pg_init(ngx_http_sfn_pg_t *pg, ngx_cycle_t *cycle,
    ngx_http_sfn_main_conf_t *smcf)
{
    ngx_queue_init(&pg->pending);
    ngx_queue_init(&pg->sent);
    ngx_queue_init(&pg->batch);

    pg->log = cycle->log;
    pg->limit = smcf->database_queue;

    if (smcf->database.len == 0) {
        return NGX_OK;
    }

    pg->conninfo.len = smcf->database.len;
    pg->conninfo.data = ngx_pnalloc(cycle->pool, smcf->database.len + 1);
    if (pg->conninfo.data == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(pg->conninfo.data, smcf->database.data,
                smcf->database.len + 1);

    pg->flush.handler = ngx_http_sfn_pg_flush_handler;
    pg->flush.data = pg;
    pg->flush.log = cycle->log;

    pg->reconnect.handler = ngx_http_sfn_pg_connect;
    pg->reconnect.data = pg;
    pg->reconnect.log = cycle->log;
    pg->reconnect.cancelable = 1;

    ngx_http_sfn_pg_connect(&pg->reconnect);

    return NGX_OK;
}


void
ngx_http_sfn_pg_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_sfn_pg_exit(&ngx_http_sfn_pg, cycle);
    ngx_http_sfn_pg_exit(&ngx_http_sfn_pg_reader, cycle);
    ngx_http_sfn_pg_exit(&ngx_http_sfn_pg_sweeper, cycle);
}


static void
ngx_http_sfn_pg_exit(ngx_http_sfn_pg_t *pg, ngx_cycle_t *cycle)
{
    ngx_queue_t             *q;
    ngx_http_sfn_pg_stmt_t  *st;

    if (pg->log == NULL) {
        /* never initialized */
        return;
    }

    pg->exiting = 1;

    if (pg->queued) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "sfn database: %ui statements not written at exit",
                      pg->queued);
    }

    ngx_http_sfn_pg_close(pg, 0);

    while (!ngx_queue_empty(&pg->pending)) {
        q = ngx_queue_head(&pg->pending);
        ngx_queue_remove(q);
        st = ngx_queue_data(q, ngx_http_sfn_pg_stmt_t, queue);
        ngx_free(st);
    }
}


ngx_int_t
ngx_http_sfn_pg_exec(const char *sql, int nparams, const char *const *values)
{
    return ngx_http_sfn_pg_query(sql, nparams, values, NULL, NULL);
}


/*
 * Queues a statement; handler, if any, is called once the implicit
 * transaction that holds it has committed (res is its result) or with
 * res == NULL if the statement itself failed.  A statement whose batch
 * aborted for another's error is sent again, its handler not yet called.
 */

ngx_int_t
ngx_http_sfn_pg_query(const char *sql, int nparams, const char *const *values,
    ngx_http_sfn_pg_handler_pt handler, void *data)
{
    return ngx_http_sfn_pg_queue(&ngx_http_sfn_pg, sql, nparams, values,
                                 handler, data, 0);
}


/*
 * The same, in an implicit transaction of its own: for a statement that
 * sends NOTIFY, which serializes commits, never to join a transition's.
 */

ngx_int_t
ngx_http_sfn_pg_query_alone(const char *sql, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data)
{
    return ngx_http_sfn_pg_queue(&ngx_http_sfn_pg, sql, nparams, values,
                                 handler, data, NGX_HTTP_SFN_PG_ALONE);
}


/*
 * A statement of an execution already acknowledged (its row, its events,
 * its steps, its tokens, its mail): queued whatever the queue holds, for
 * it must not be lost.  What bounds the queue then is that such a run
 * waits for each step to commit before the next, and that new Standard
 * executions are refused past the high-water mark (ngx_http_sfn_pg_busy()).
 */

ngx_int_t
ngx_http_sfn_pg_record(const char *sql, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data)
{
    return ngx_http_sfn_pg_queue(&ngx_http_sfn_pg, sql, nparams, values,
                                 handler, data, NGX_HTTP_SFN_PG_RECORD);
}


/* a read of the API: the same as ngx_http_sfn_pg_query(), by name */

ngx_int_t
ngx_http_sfn_pg_prepared(ngx_http_sfn_pg_prepared_t *ps, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data)
{
    return ngx_http_sfn_pg_by_name(&ngx_http_sfn_pg, ps, nparams, values,
                                   handler, data);
}


/*
 * The same on the reader: it sees what has committed, and waits for no
 * write of this worker's
 */

ngx_int_t
ngx_http_sfn_pg_read(ngx_http_sfn_pg_prepared_t *ps, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data)
{
    return ngx_http_sfn_pg_by_name(&ngx_http_sfn_pg_reader, ps, nparams,
                                   values, handler, data);
}


static ngx_int_t
ngx_http_sfn_pg_by_name(ngx_http_sfn_pg_t *pg, ngx_http_sfn_pg_prepared_t *ps,
    int nparams, const char *const *values,
    ngx_http_sfn_pg_handler_pt handler, void *data)
{
    ngx_int_t                rc;
    ngx_queue_t             *q;
    ngx_http_sfn_pg_stmt_t  *st;

    rc = ngx_http_sfn_pg_queue(pg, ps->sql, nparams, values, handler, data,
                               0);

    if (rc == NGX_OK) {
        q = ngx_queue_last(&pg->pending);
        st = ngx_queue_data(q, ngx_http_sfn_pg_stmt_t, queue);
        st->prepared = ps;
    }

    return rc;
}


/*
 * Retention's batch, on the sweeper's connection: a transaction of its
 * own that holds no statement of the writer behind it
 */

ngx_int_t
ngx_http_sfn_pg_sweep(const char *sql, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data)
{
    return ngx_http_sfn_pg_queue(&ngx_http_sfn_pg_sweeper, sql, nparams,
                                 values, handler, data,
                                 NGX_HTTP_SFN_PG_ALONE);
}


/*
 * NGX_BUSY past the high-water mark, half of sfn_database_queue (or of
 * the count of statements): no new Standard execution is taken then.
 */

ngx_int_t
ngx_http_sfn_pg_busy(void)
{
    ngx_http_sfn_pg_t  *pg = &ngx_http_sfn_pg;

    if (pg->bytes < pg->limit / 2
        && pg->queued < NGX_HTTP_SFN_PG_MAX_QUEUE / 2)
    {
        return NGX_OK;
    }

    if (!pg->busy) {
        pg->busy = 1;

        ngx_log_error(NGX_LOG_WARN, pg->log, 0,
                      "sfn database: %uz bytes in %ui statements queued, "
                      "new Standard executions refused until it drains",
                      pg->bytes, pg->queued);
    }

    return NGX_BUSY;
}


/*
 * PostgreSQL's text holds no NUL.  The engine carries one as C0 80, never
 * valid UTF-8, so nothing else is: it goes as U+FFFD, the replacement
 * character, rather than fail the statement and lose what it records (an
 * execution whose error or cause holds a NUL, its history).  Returns the
 * bytes that adds.
 */

static size_t
ngx_http_sfn_pg_nuls(const u_char *p, const u_char *last)
{
    size_t  n;

    n = 0;

    while ((p = ngx_strlchr((u_char *) p, (u_char *) last, 0xc0)) != NULL) {
        if (++p < last && *p == 0x80) {
            n++;
        }
    }

    return n;
}


static u_char *
ngx_http_sfn_pg_copy(u_char *dst, const u_char *src, size_t len)
{
    const u_char  *last;

    last = src + len;

    while (src < last) {
        if (src[0] == 0xc0 && src + 1 < last && src[1] == 0x80) {
            *dst++ = 0xef;
            *dst++ = 0xbf;
            *dst++ = 0xbd;
            src += 2;
            continue;
        }

        *dst++ = *src++;
    }

    *dst++ = '\0';

    return dst;
}


/*
 * The text PostgreSQL keeps of s (its NUL as U+FFFD), NUL-terminated: s
 * itself, already terminated, when it holds no NUL; NULL if out of memory
 */

u_char *
ngx_http_sfn_pg_text(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;
    size_t   nuls;

    nuls = ngx_http_sfn_pg_nuls(s->data, s->data + s->len);

    if (nuls == 0) {
        return s->data;
    }

    p = ngx_pnalloc(pool, s->len + nuls + 1);
    if (p == NULL) {
        return NULL;
    }

    (void) ngx_http_sfn_pg_copy(p, s->data, s->len);

    return p;
}


static ngx_int_t
ngx_http_sfn_pg_queue(ngx_http_sfn_pg_t *pg, const char *sql, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data, ngx_uint_t flags)
{
    u_char                  *p;
    size_t                   size, len, nuls;
    ngx_int_t                i;
    ngx_http_sfn_pg_stmt_t  *st;

    if (pg->conninfo.len == 0) {
        if (handler) {
            handler(data, NULL);
        }

        return NGX_DECLINED;
    }

    size = sizeof(ngx_http_sfn_pg_stmt_t) + nparams * sizeof(char *);
    nuls = 0;

    for (i = 0; i < nparams; i++) {
        if (values[i]) {
            len = ngx_strlen(values[i]);
            nuls += ngx_http_sfn_pg_nuls((u_char *) values[i],
                                         (u_char *) values[i] + len);
            size += len + 1;
        }
    }

    size += nuls;

    /*
     * a statement without parameters (the SELECT 1 an acknowledgement
     * waits for) takes no memory worth refusing
     */

    if (!(flags & NGX_HTTP_SFN_PG_RECORD) && nparams
        && (pg->queued >= NGX_HTTP_SFN_PG_MAX_QUEUE
            || pg->bytes + size > pg->limit))
    {
        if (!pg->full) {
            pg->full = 1;

            ngx_log_error(NGX_LOG_WARN, pg->log, 0,
                          "sfn database: %uz bytes in %ui statements "
                          "queued, writes refused until it drains",
                          pg->bytes, pg->queued);
        }

        return NGX_ERROR;
    }

    st = ngx_alloc(size, pg->log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    st->sql = sql;
    st->handler = handler;
    st->data = data;
    st->res = NULL;
    st->nparams = nparams;
    st->size = size;
    st->prepared = NULL;
    st->failed = 0;
    st->alone = (flags & NGX_HTTP_SFN_PG_ALONE) ? 1 : 0;
    st->preparing = 0;

    p = (u_char *) &st->values[nparams + 1];

    for (i = 0; i < nparams; i++) {
        if (values[i] == NULL) {
            st->values[i] = NULL;
            continue;
        }

        st->values[i] = (char *) p;
        len = ngx_strlen(values[i]);

        p = nuls ? ngx_http_sfn_pg_copy(p, (u_char *) values[i], len)
                 : ngx_cpymem(p, values[i], len + 1);
    }

    ngx_queue_insert_tail(&pg->pending, &st->queue);
    pg->queued++;
    pg->bytes += size;

    if (!pg->flush.posted) {
        ngx_post_event(&pg->flush, &ngx_posted_events);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_sfn_pg_sync(void)
{
    return ngx_http_sfn_pg.queued ? NGX_AGAIN : NGX_OK;
}


/*
 * For how long the writer has been connected since it last lost the
 * database (its connection, or a connect that failed): 0 while it has
 * none, NGX_MAX_INT32_VALUE if it never lost it
 */

ngx_msec_t
ngx_http_sfn_pg_since_outage(void)
{
    ngx_http_sfn_pg_t  *pg = &ngx_http_sfn_pg;

    if (pg->state != ngx_http_sfn_pg_ready) {
        return 0;
    }

    if (!pg->lost) {
        return NGX_MAX_INT32_VALUE;
    }

    return ngx_current_msec - pg->since;
}


static void
ngx_http_sfn_pg_connect(ngx_event_t *ev)
{
    ngx_http_sfn_pg_t *pg = ev->data;

    ngx_socket_t       fd;
    ngx_connection_t  *c;

    pg->conn = PQconnectStart((char *) pg->conninfo.data);

    if (pg->conn == NULL || PQstatus(pg->conn) == CONNECTION_BAD) {
        ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                      "sfn database: connect failed: %s",
                      pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        ngx_http_sfn_pg_close(pg, 1);
        return;
    }

    if (PQsetnonblocking(pg->conn, 1) == -1) {
        ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                      "sfn database: PQsetnonblocking() failed: %s",
                      PQerrorMessage(pg->conn));
        ngx_http_sfn_pg_close(pg, 1);
        return;
    }

    /*
     * libpq prints what comes between queries on stderr, a terminated
     * backend's FATAL among it: the lost connection is logged as such
     */

    PQsetNoticeProcessor(pg->conn, ngx_http_sfn_pg_notice, pg->log);

    fd = PQsocket(pg->conn);

    c = ngx_get_connection(fd, pg->log);
    if (c == NULL) {
        ngx_http_sfn_pg_close(pg, 1);
        return;
    }

    /* the socket is libpq's: nginx must never close() it */
    c->shared = 1;
    c->data = pg;
    c->read->handler = ngx_http_sfn_pg_read_handler;
    c->write->handler = ngx_http_sfn_pg_write_handler;
    c->read->log = pg->log;
    c->write->log = pg->log;

    pg->c = c;
    pg->state = ngx_http_sfn_pg_connecting;

    if (ngx_add_conn(c) != NGX_OK) {
        ngx_http_sfn_pg_close(pg, 1);
        return;
    }

    if (ngx_http_sfn_pg_poll_connect(pg) == NGX_ERROR) {
        ngx_http_sfn_pg_close(pg, 1);
    }
}


static ngx_int_t
ngx_http_sfn_pg_poll_connect(ngx_http_sfn_pg_t *pg)
{
    ngx_uint_t                 n;
    PostgresPollingStatusType  rc;

    /*
     * edge-triggered events: a poll that changes state without socket I/O
     * (CONNECTION_MADE) must be repeated at once, the edge is already gone
     */

    for (n = 0; n < 16; n++) {
        rc = PQconnectPoll(pg->conn);

        switch (rc) {

        case PGRES_POLLING_OK:
            if (PQenterPipelineMode(pg->conn) != 1) {
                ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                              "sfn database: PQenterPipelineMode() failed: "
                              "%s", PQerrorMessage(pg->conn));
                return NGX_ERROR;
            }

            pg->state = ngx_http_sfn_pg_ready;
            pg->generation = ++ngx_http_sfn_pg_generation;
            pg->since = ngx_current_msec;

            if (pg->gauge) {
                *pg->gauge = 1;
            }

            ngx_log_error(NGX_LOG_INFO, pg->log, 0,
                          "sfn database: connected%s", pg->name);

            if (pg->setup == NULL) {
                return ngx_http_sfn_pg_send(pg);
            }

            if (PQsendQueryParams(pg->conn, pg->setup, 0, NULL, NULL, NULL,
                                  NULL, 0) != 1
                || PQpipelineSync(pg->conn) != 1)
            {
                ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                              "sfn database: \"%s\" failed: %s",
                              pg->setup, PQerrorMessage(pg->conn));
                return NGX_ERROR;
            }

            pg->listen = 1;
            pg->syncs++;

            if (pg->mail) {
                ngx_http_sfn_exec_mail_notify(NULL);
                ngx_http_sfn_activity_notify(NULL);
            }

            return ngx_http_sfn_pg_send(pg);

        case PGRES_POLLING_FAILED:
            ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                          "sfn database: connect failed: %s",
                          PQerrorMessage(pg->conn));
            return NGX_ERROR;

        case PGRES_POLLING_READING:
            return NGX_AGAIN;

        default: /* PGRES_POLLING_WRITING */
            if (!pg->c->write->ready) {
                return NGX_AGAIN;
            }

            break;
        }
    }

    return NGX_AGAIN;
}


static void
ngx_http_sfn_pg_close(ngx_http_sfn_pg_t *pg, ngx_uint_t retry)
{
    ngx_queue_t             *q;
    ngx_http_sfn_pg_stmt_t  *st;

    if (pg->c) {
        ngx_del_conn(pg->c, NGX_CLOSE_EVENT);
        pg->c->fd = (ngx_socket_t) -1;
        ngx_free_connection(pg->c);
        pg->c = NULL;
    }

    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }

    pg->state = ngx_http_sfn_pg_closed;
    pg->syncs = 0;

    if (pg->gauge) {
        *pg->gauge = 0;
    }

    pg->listen = 0;
    pg->batch_failed = 0;

    /*
     * what was sent since the last sync answered goes again, in order,
     * first: its transaction may not have committed, or may have and its
     * reply been lost, so the statements are written to be sent twice
     * (ngx_http_sfn_run_flush_events()); whatever they answered the first
     * time, an error included, was the answer of a transaction that did
     * not commit or of one that is not known to have
     */

    while (!ngx_queue_empty(&pg->sent)) {
        q = ngx_queue_last(&pg->sent);
        ngx_queue_remove(q);
        st = ngx_queue_data(q, ngx_http_sfn_pg_stmt_t, queue);
        st->preparing = 0;
        st->failed = 0;
        ngx_queue_insert_head(&pg->pending, q);
    }

    while (!ngx_queue_empty(&pg->batch)) {
        q = ngx_queue_last(&pg->batch);
        ngx_queue_remove(q);
        st = ngx_queue_data(q, ngx_http_sfn_pg_stmt_t, queue);

        if (st->res) {
            PQclear(st->res);
            st->res = NULL;
        }

        /* its error may have been the connection's end: it is sent again */
        st->failed = 0;
        ngx_queue_insert_head(&pg->pending, q);
    }

    if (retry && !pg->exiting && !ngx_exiting && !ngx_terminate) {
        pg->lost = 1;
        ngx_add_timer(&pg->reconnect, NGX_HTTP_SFN_PG_RECONNECT);
    }
}


static void
ngx_http_sfn_pg_flush_handler(ngx_event_t *ev)
{
    ngx_http_sfn_pg_t *pg = ev->data;

    if (pg->state == ngx_http_sfn_pg_ready
        && ngx_http_sfn_pg_send(pg) == NGX_ERROR)
    {
        ngx_http_sfn_pg_close(pg, 1);
    }
}


static ngx_int_t
ngx_http_sfn_pg_send(ngx_http_sfn_pg_t *pg)
{
    int                          rc;
    ngx_uint_t                   n;
    ngx_queue_t                 *q;
    ngx_http_sfn_pg_stmt_t      *st;
    ngx_http_sfn_pg_prepared_t  *ps;

    n = 0;

    while (!ngx_queue_empty(&pg->pending) && n < NGX_HTTP_SFN_PG_MAX_BATCH) {
        q = ngx_queue_head(&pg->pending);
        st = ngx_queue_data(q, ngx_http_sfn_pg_stmt_t, queue);

        if (st->alone && n) {
            /* it goes with the next sync, by itself */
            break;
        }

        ps = st->prepared;

        if (ps && ps->generation != pg->generation) {

            /* the pipeline runs it before the statement that follows */

            if (PQsendPrepare(pg->conn, ps->name, ps->sql, st->nparams,
                              NULL)
                != 1)
            {
                ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                              "sfn database: PQsendPrepare() failed: %s",
                              PQerrorMessage(pg->conn));
                return NGX_ERROR;
            }

            ps->generation = pg->generation;
            st->preparing = 1;
        }

        rc = ps ? PQsendQueryPrepared(pg->conn, ps->name, st->nparams,
                                      (const char *const *) st->values,
                                      NULL, NULL, 0)
                : PQsendQueryParams(pg->conn, st->sql, st->nparams, NULL,
                                    (const char *const *) st->values,
                                    NULL, NULL, 0);

        if (rc != 1) {
            ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                          "sfn database: PQsendQuery() failed: %s",
                          PQerrorMessage(pg->conn));
            return NGX_ERROR;
        }

        ngx_queue_remove(q);
        ngx_queue_insert_tail(&pg->sent, q);
        n++;

        if (st->alone) {
            break;
        }
    }

    if (n) {
        if (PQpipelineSync(pg->conn) != 1) {
            ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                          "sfn database: PQpipelineSync() failed: %s",
                          PQerrorMessage(pg->conn));
            return NGX_ERROR;
        }

        pg->syncs++;

        if (!ngx_queue_empty(&pg->pending) && !pg->flush.posted) {
            ngx_post_event(&pg->flush, &ngx_posted_events);
        }
    }

    rc = PQflush(pg->conn);

    if (rc == -1) {
        ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                      "sfn database: PQflush() failed: %s",
                      PQerrorMessage(pg->conn));
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_sfn_pg_write_handler(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    ngx_http_sfn_pg_t  *pg = c->data;

    ngx_int_t  rc;

    if (pg->state == ngx_http_sfn_pg_connecting) {
        rc = ngx_http_sfn_pg_poll_connect(pg);

    } else {
        rc = (PQflush(pg->conn) == -1) ? NGX_ERROR : NGX_OK;
    }

    if (rc == NGX_ERROR) {
        ngx_http_sfn_pg_close(pg, 1);
    }
}


static void
ngx_http_sfn_pg_read_handler(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    ngx_http_sfn_pg_t  *pg = c->data;

    ngx_int_t  rc;

    if (pg->state == ngx_http_sfn_pg_connecting) {
        rc = ngx_http_sfn_pg_poll_connect(pg);

    } else {
        rc = ngx_http_sfn_pg_receive(pg);
    }

    if (rc == NGX_ERROR) {
        ngx_http_sfn_pg_close(pg, 1);
    }
}


static void
ngx_http_sfn_pg_batch_done(ngx_http_sfn_pg_t *pg)
{
    ngx_queue_t              *q, again;
    ngx_http_sfn_pg_stmt_t   *st;

    /*
     * an error aborts the whole implicit transaction of a sync: what else
     * it held did not commit and goes out again, first, with the next batch
     */

    ngx_queue_init(&again);

    while (!ngx_queue_empty(&pg->batch)) {
        q = ngx_queue_head(&pg->batch);
        ngx_queue_remove(q);
        st = ngx_queue_data(q, ngx_http_sfn_pg_stmt_t, queue);

        if (pg->batch_failed && !st->failed) {
            if (st->res) {
                PQclear(st->res);
                st->res = NULL;
            }

            ngx_queue_insert_tail(&again, q);
            continue;
        }

        ngx_http_sfn_pg_dequeued(pg, st);

        if (st->handler) {
            st->handler(st->data, st->failed ? NULL : st->res);
        }

        if (st->res) {
            PQclear(st->res);
        }

        ngx_free(st);
    }

    if (!ngx_queue_empty(&again)) {
        ngx_queue_add(&again, &pg->pending);
        ngx_queue_init(&pg->pending);
        ngx_queue_add(&pg->pending, &again);

        if (!pg->flush.posted) {
            ngx_post_event(&pg->flush, &ngx_posted_events);
        }
    }

    pg->batch_failed = 0;
}


static void
ngx_http_sfn_pg_dequeued(ngx_http_sfn_pg_t *pg, ngx_http_sfn_pg_stmt_t *st)
{
    pg->queued--;
    pg->bytes -= st->size;

    if ((pg->busy || pg->full) && pg->bytes < pg->limit / 4
        && pg->queued < NGX_HTTP_SFN_PG_MAX_QUEUE / 4)
    {
        pg->busy = 0;
        pg->full = 0;

        ngx_log_error(NGX_LOG_NOTICE, pg->log, 0,
                      "sfn database: the queue has drained to %uz bytes, "
                      "new executions taken again", pg->bytes);
    }
}


/*
 * A PREPARE that did not happen: aborted with its batch, the statement is
 * sent again and prepares it again; failed, the statement fails with it
 */

static void
ngx_http_sfn_pg_unprepared(ngx_http_sfn_pg_t *pg, ngx_http_sfn_pg_stmt_t *st,
    PGresult *res)
{
    st->prepared->generation = 0;
    pg->batch_failed = 1;

    if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
        ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                      "sfn database: PREPARE \"%s\" failed: %s",
                      st->prepared->name, PQresultErrorMessage(res));
        st->failed = 1;
    }
}


/* 26000, invalid_sql_statement_name: no prepared statement of that name */

static ngx_uint_t
ngx_http_sfn_pg_missing(PGresult *res)
{
    char  *state;

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return state && ngx_strcmp(state, "26000") == 0;
}


/* NGX_ERROR, logged: the caller closes the connection and reconnects */

static ngx_int_t
ngx_http_sfn_pg_lost(ngx_http_sfn_pg_t *pg, const char *why)
{
    ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                  "sfn database: connection lost%s: %s", pg->name, why);

    return NGX_ERROR;
}


/*
 * An error that ends the session (FATAL or PANIC: the backend terminated,
 * the server shutting down) or that libpq made of a connection it lost is
 * no answer to the statement: its transaction did not commit, or did with
 * its reply lost, and the statement goes again on the next connection.
 */

static ngx_uint_t
ngx_http_sfn_pg_ended(ngx_http_sfn_pg_t *pg, PGresult *res)
{
    char  *severity;

    if (PQstatus(pg->conn) == CONNECTION_BAD) {
        return 1;
    }

    severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

    return severity && (ngx_strcmp(severity, "FATAL") == 0
                        || ngx_strcmp(severity, "PANIC") == 0);
}


/*
 * Class 40, transaction rollback (a deadlock, a serialization failure):
 * the transaction is to be tried again, not its statement given up
 */

static ngx_uint_t
ngx_http_sfn_pg_transient(PGresult *res)
{
    char  *state;

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return state && ngx_strncmp(state, "40", 2) == 0;
}


static ngx_int_t
ngx_http_sfn_pg_receive_once(ngx_http_sfn_pg_t *pg)
{
    PGnotify                *n;
    PGresult                *res;
    ngx_queue_t             *q;
    ExecStatusType           status;
    ngx_http_sfn_pg_stmt_t  *st;

    if (PQconsumeInput(pg->conn) != 1) {
        return ngx_http_sfn_pg_lost(pg, PQerrorMessage(pg->conn));
    }

    while (pg->syncs && !PQisBusy(pg->conn)) {

        res = PQgetResult(pg->conn);

        if (res == NULL) {
            /* the end of one statement's results */
            continue;
        }

        status = PQresultStatus(res);

        if (status == PGRES_FATAL_ERROR && ngx_http_sfn_pg_ended(pg, res)) {
            (void) ngx_http_sfn_pg_lost(pg, PQresultErrorMessage(res));
            PQclear(res);
            return NGX_ERROR;
        }

        if (status == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            pg->syncs--;
            ngx_http_sfn_pg_batch_done(pg);
            continue;
        }

        if (pg->listen) {
            /* the setup, sent before any statement of the queue */

            if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
                ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                              "sfn database: \"%s\" failed: %s",
                              pg->setup, PQresultErrorMessage(res));
            }

            pg->listen = 0;
            PQclear(res);
            continue;
        }

        if (ngx_queue_empty(&pg->sent)) {

            /*
             * a backend terminated between a statement's result and its
             * sync: libpq gives the connection's end as one more result
             */

            if (status == PGRES_FATAL_ERROR
                && PQstatus(pg->conn) == CONNECTION_BAD)
            {
                ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                              "sfn database: connection lost: %s",
                              PQresultErrorMessage(res));
                PQclear(res);
                return NGX_ERROR;
            }

            ngx_log_error(NGX_LOG_ALERT, pg->log, 0,
                          "sfn database: unexpected result %s",
                          PQresStatus(status));
            PQclear(res);
            return NGX_ERROR;
        }

        q = ngx_queue_head(&pg->sent);
        st = ngx_queue_data(q, ngx_http_sfn_pg_stmt_t, queue);

        if (st->preparing) {
            /* its PREPARE's: the statement's own result comes next */

            st->preparing = 0;

            if (status != PGRES_COMMAND_OK) {
                ngx_http_sfn_pg_unprepared(pg, st, res);
            }

            PQclear(res);
            continue;
        }

        ngx_queue_remove(q);
        ngx_queue_insert_tail(&pg->batch, q);

        if (status == PGRES_FATAL_ERROR && st->prepared
            && ngx_http_sfn_pg_missing(res))
        {
            /* prepared by a statement whose batch aborted: again */

            st->prepared->generation = 0;
            pg->batch_failed = 1;
            PQclear(res);

        } else if (status == PGRES_FATAL_ERROR
                   && ngx_http_sfn_pg_transient(res))
        {
            ngx_log_error(NGX_LOG_WARN, pg->log, 0,
                          "sfn database: \"%.60s\" sent again: %s",
                          st->sql, PQresultErrorMessage(res));
            pg->batch_failed = 1;
            PQclear(res);

        } else if (status == PGRES_FATAL_ERROR) {
            ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                          "sfn database: \"%.60s\" failed: %s",
                          st->sql, PQresultErrorMessage(res));
            st->failed = 1;
            pg->batch_failed = 1;
            PQclear(res);

        } else if (status == PGRES_PIPELINE_ABORTED) {
            pg->batch_failed = 1;
            PQclear(res);

        } else if (st->handler && st->res == NULL) {
            st->res = res;

        } else {
            PQclear(res);
        }
    }

    /* an idle connection parses notifications only when asked */

    (void) PQisBusy(pg->conn);

    while ((n = PQnotifies(pg->conn)) != NULL) {
        if (ngx_strcmp(n->relname, "sfn_activity") == 0) {
            ngx_http_sfn_activity_notify(n->extra);

        } else {
            ngx_http_sfn_exec_mail_notify(n->extra);
        }

        PQfreemem(n);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_sfn_pg_affected(void *res)
{
    char  *n;

    n = PQcmdTuples(res);

    return (n && *n) ? ngx_atoi((u_char *) n, ngx_strlen(n)) : 0;
}


/*
 * The socket is edge-triggered and PQconsumeInput() may stop before it has
 * read everything (a large batch of results): read until the socket is
 * drained, or the next edge may never come.  The server's end of the
 * connection (a backend terminated after its last message) comes with the
 * same edge and FIONREAD does not count it: once the data is read, libpq
 * reads once more to find it.
 */

static ngx_int_t
ngx_http_sfn_pg_receive(ngx_http_sfn_pg_t *pg)
{
    int  n;

    for ( ;; ) {
        if (ngx_http_sfn_pg_receive_once(pg) != NGX_OK) {
            return NGX_ERROR;
        }

        if (pg->conn == NULL) {
            return NGX_OK;
        }

        if (PQstatus(pg->conn) == CONNECTION_BAD) {
            return ngx_http_sfn_pg_lost(pg, PQerrorMessage(pg->conn));
        }

        if (ioctl(PQsocket(pg->conn), FIONREAD, &n) == -1) {
            return NGX_OK;
        }

        if (n == 0 && !pg->c->read->pending_eof) {
            return NGX_OK;
        }
    }
}
