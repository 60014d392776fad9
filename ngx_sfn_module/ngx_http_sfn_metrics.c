
/*
 * Copyright (C) ngx_sfn authors
 *
 * Prometheus metrics.  "sfn_metrics" serves the text exposition format;
 * the counters live in a small shared zone of their own ("sfn_metrics"),
 * so every worker adds to the same numbers and a reload keeps them.  The
 * execution driver reports through ngx_http_sfn_metrics_exec() and
 * ngx_http_sfn_metrics_task(); updates are lock-free atomics, only the
 * first sighting of a state machine or resource takes the zone's mutex.
 *
 * Each worker keeps the count of its PostgreSQL connections in a slot of
 * its own.  The store's figures (rows and bytes per table, the oldest
 * closed execution kept) are read from PostgreSQL's catalog through the
 * writer of the worker that serves a scrape, at most every few seconds,
 * and served from the zone meanwhile: a scrape never waits for them.
 */


#include "ngx_http_sfn_module.h"

#include <libpq-fe.h>


#define NGX_HTTP_SFN_METRICS_ZONE       (256 * 1024)
#define NGX_HTTP_SFN_METRICS_MACHINES   128
#define NGX_HTTP_SFN_METRICS_RESOURCES  64
#define NGX_HTTP_SFN_METRICS_NAME       128

#define NGX_HTTP_SFN_METRICS_WORKERS    64
#define NGX_HTTP_SFN_METRICS_TABLES     32
#define NGX_HTTP_SFN_METRICS_TABLE_NAME 64
#define NGX_HTTP_SFN_METRICS_STORE_AGE  5000    /* ms */

#define NGX_HTTP_SFN_METRICS_EXEC_BUCKETS  12
#define NGX_HTTP_SFN_METRICS_TASK_BUCKETS  12


/* upper bounds of the histogram buckets, in milliseconds */

static const int64_t  ngx_http_sfn_metrics_exec_le[] = {
    10, 50, 100, 500, 1000, 5000, 10000, 30000, 60000, 300000, 900000,
    3600000
};

static const int64_t  ngx_http_sfn_metrics_task_le[] = {
    1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 30000, 60000, 300000
};


typedef struct {
    u_char                       name[NGX_HTTP_SFN_METRICS_NAME];
    size_t                       len;
    ngx_atomic_t                 status[5];     /* by sfn_status_e */
    ngx_atomic_t                 buckets[NGX_HTTP_SFN_METRICS_EXEC_BUCKETS
                                         + 1];
    ngx_atomic_t                 sum_ms;
} ngx_http_sfn_metrics_machine_t;


typedef struct {
    u_char                       name[NGX_HTTP_SFN_METRICS_NAME];
    size_t                       len;
    ngx_atomic_t                 ok;
    ngx_atomic_t                 failed;
    ngx_atomic_t                 buckets[NGX_HTTP_SFN_METRICS_TASK_BUCKETS
                                         + 1];
    ngx_atomic_t                 sum_ms;
} ngx_http_sfn_metrics_resource_t;


typedef struct {
    u_char                       name[NGX_HTTP_SFN_METRICS_TABLE_NAME];
    size_t                       len;
    ngx_atomic_t                 rows;
    ngx_atomic_t                 bytes;
} ngx_http_sfn_metrics_table_t;


struct ngx_http_sfn_metrics_s {
    ngx_atomic_t                 nmachines;
    ngx_atomic_t                 nresources;
    ngx_atomic_t                 tasks_posted;
    ngx_atomic_t                 tasks_done;
    ngx_atomic_t                 dropped;       /* names that did not fit */
    ngx_http_sfn_metrics_machine_t
                                 machines[NGX_HTTP_SFN_METRICS_MACHINES];
    ngx_http_sfn_metrics_resource_t
                                 resources[NGX_HTTP_SFN_METRICS_RESOURCES];

    /* by worker: the writer's connection, the database tasks', the
     * sweeper's, the reader's */
    ngx_atomic_t                 connections[NGX_HTTP_SFN_METRICS_WORKERS][4];

    ngx_atomic_t                 retention_executions;
    ngx_atomic_t                 retention_rows;

    ngx_atomic_t                 store_asked;   /* ms */
    ngx_atomic_t                 store_read;    /* ms, 0: never */
    ngx_atomic_t                 oldest;        /* s, 0: none */
    ngx_atomic_t                 ntables;
    ngx_http_sfn_metrics_table_t tables[NGX_HTTP_SFN_METRICS_TABLES];
};


static ngx_int_t ngx_http_sfn_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_sfn_metrics_handler(ngx_http_request_t *r);


char *
ngx_http_sfn_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                  name;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sfn_module);

    if (smcf->metrics_zone == NULL) {
        ngx_str_set(&name, "sfn_metrics");

        smcf->metrics_zone = ngx_shared_memory_add(cf, &name,
                                                   NGX_HTTP_SFN_METRICS_ZONE,
                                                   &ngx_http_sfn_module);
        if (smcf->metrics_zone == NULL) {
            return NGX_CONF_ERROR;
        }

        smcf->metrics_zone->init = ngx_http_sfn_metrics_init_zone;
        smcf->metrics_zone->data = smcf;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_sfn_metrics_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_sfn_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_sfn_main_conf_t *osmcf = data;

    ngx_slab_pool_t           *shpool;
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = zone->data;

    if (osmcf) {
        smcf->metrics = osmcf->metrics;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        smcf->metrics = shpool->data;
        return NGX_OK;
    }

    smcf->metrics = ngx_slab_calloc(shpool, sizeof(ngx_http_sfn_metrics_t));
    if (smcf->metrics == NULL) {
        return NGX_ERROR;
    }

    shpool->data = smcf->metrics;

    return NGX_OK;
}


/*
 * Finds or adds the slot of a name.  Slots are filled under the zone's
 * mutex and published by the count that follows a barrier, so readers
 * scan [0, n) without the lock.
 */

static void *
ngx_http_sfn_metrics_slot(ngx_http_sfn_main_conf_t *smcf, ngx_atomic_t *nslots,
    u_char *base, size_t size, ngx_uint_t max, u_char *name, size_t len)
{
    u_char           *slot;
    ngx_uint_t        i, n;
    ngx_slab_pool_t  *shpool;

    len = ngx_min(len, NGX_HTTP_SFN_METRICS_NAME);

    n = *nslots;

    for (i = 0; i < n; i++) {
        slot = base + i * size;

        /* name and len lead both slot types */

        if (*(size_t *) (slot + NGX_HTTP_SFN_METRICS_NAME) == len
            && ngx_memcmp(slot, name, len) == 0)
        {
            return slot;
        }
    }

    shpool = (ngx_slab_pool_t *) smcf->metrics_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    slot = NULL;
    n = *nslots;

    for (i = 0; i < n; i++) {
        if (*(size_t *) (base + i * size + NGX_HTTP_SFN_METRICS_NAME) == len
            && ngx_memcmp(base + i * size, name, len) == 0)
        {
            slot = base + i * size;
            break;
        }
    }

    if (slot == NULL && n < max) {
        slot = base + n * size;
        ngx_memcpy(slot, name, len);
        *(size_t *) (slot + NGX_HTTP_SFN_METRICS_NAME) = len;

        ngx_memory_barrier();

        *nslots = n + 1;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (slot == NULL) {
        (void) ngx_atomic_fetch_add(&smcf->metrics->dropped, 1);
    }

    return slot;
}


static ngx_uint_t
ngx_http_sfn_metrics_bucket(const int64_t *le, ngx_uint_t n, int64_t ms)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        if (ms <= le[i]) {
            return i;
        }
    }

    return n;
}


void
ngx_http_sfn_metrics_exec(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *machine,
    sfn_status_e status, int64_t ms)
{
    ngx_uint_t                       b;
    ngx_http_sfn_metrics_t          *mt;
    ngx_http_sfn_metrics_machine_t  *m;

    mt = smcf->metrics;

    if (mt == NULL || (ngx_uint_t) status > SFN_ABORTED) {
        return;
    }

    m = ngx_http_sfn_metrics_slot(smcf, &mt->nmachines,
                                  (u_char *) mt->machines,
                                  sizeof(ngx_http_sfn_metrics_machine_t),
                                  NGX_HTTP_SFN_METRICS_MACHINES,
                                  machine->data, machine->len);
    if (m == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->status[status], 1);

    if (status == SFN_RUNNING) {
        return;
    }

    ms = ngx_max(ms, 0);

    b = ngx_http_sfn_metrics_bucket(ngx_http_sfn_metrics_exec_le,
                                    NGX_HTTP_SFN_METRICS_EXEC_BUCKETS, ms);

    (void) ngx_atomic_fetch_add(&m->buckets[b], 1);
    (void) ngx_atomic_fetch_add(&m->sum_ms, (ngx_atomic_int_t) ms);
}


void
ngx_http_sfn_metrics_task_posted(ngx_http_sfn_main_conf_t *smcf)
{
    if (smcf->metrics) {
        (void) ngx_atomic_fetch_add(&smcf->metrics->tasks_posted, 1);
    }
}


void
ngx_http_sfn_metrics_task(ngx_http_sfn_main_conf_t *smcf,
    const char *resource, ngx_uint_t ok, int64_t ms)
{
    ngx_uint_t                        b;
    ngx_http_sfn_metrics_t           *mt;
    ngx_http_sfn_metrics_resource_t  *t;

    mt = smcf->metrics;

    if (mt == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&mt->tasks_done, 1);

    if (resource == NULL) {
        return;
    }

    t = ngx_http_sfn_metrics_slot(smcf, &mt->nresources,
                                  (u_char *) mt->resources,
                                  sizeof(ngx_http_sfn_metrics_resource_t),
                                  NGX_HTTP_SFN_METRICS_RESOURCES,
                                  (u_char *) resource, ngx_strlen(resource));
    if (t == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(ok ? &t->ok : &t->failed, 1);

    ms = ngx_max(ms, 0);

    b = ngx_http_sfn_metrics_bucket(ngx_http_sfn_metrics_task_le,
                                    NGX_HTTP_SFN_METRICS_TASK_BUCKETS, ms);

    (void) ngx_atomic_fetch_add(&t->buckets[b], 1);
    (void) ngx_atomic_fetch_add(&t->sum_ms, (ngx_atomic_int_t) ms);
}


/*
 * The gauge of this worker's connections: the writer's (use 0), the
 * database tasks' pool (1), retention's sweeper (2) or the API's reader
 * (3); NULL without metrics.  A worker that
 * replaces a dead one starts from 0: the dead one's connections died with
 * it.
 */

ngx_atomic_t *
ngx_http_sfn_metrics_connections(ngx_cycle_t *cycle, ngx_uint_t use)
{
    ngx_atomic_t              *gauge;
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_sfn_module);

    /* a cache manager or loader has no slot of its own */

    if (smcf == NULL || smcf->metrics == NULL
        || (ngx_process != NGX_PROCESS_WORKER
            && ngx_process != NGX_PROCESS_SINGLE)
        || ngx_worker >= NGX_HTTP_SFN_METRICS_WORKERS)
    {
        return NULL;
    }

    gauge = &smcf->metrics->connections[ngx_worker][ngx_min(use, 3)];
    *gauge = 0;

    return gauge;
}


void
ngx_http_sfn_metrics_retention(ngx_http_sfn_main_conf_t *smcf,
    ngx_uint_t executions, ngx_uint_t rows)
{
    if (smcf->metrics) {
        (void) ngx_atomic_fetch_add(&smcf->metrics->retention_executions,
                                    executions);
        (void) ngx_atomic_fetch_add(&smcf->metrics->retention_rows, rows);
    }
}


/*
 * The store's figures.  reltuples is the estimate of the last VACUUM or
 * ANALYZE (-1 before any); a partitioned table counts its partitions.
 * The row without a name carries the stop date of the oldest closed
 * execution (sql/007_retention.sql indexes it).
 */

static const char  ngx_http_sfn_metrics_store_sql[] =
    "SELECT r.relname::text, sum(greatest(c.reltuples, 0))::bigint, "
    "sum(pg_total_relation_size(c.oid))::bigint "
    "FROM pg_class c JOIN pg_class r "
    "ON r.oid = coalesce(pg_partition_root(c.oid), c.oid) "
    "WHERE c.relkind = 'r' "
    "AND c.relnamespace = current_schema()::regnamespace "
    "AND r.relname LIKE 'sfn\\_%' GROUP BY r.relname "
    "UNION ALL "
    "SELECT NULL, extract(epoch FROM min(stop_date))::bigint, NULL "
    "FROM sfn_executions WHERE status <> 'RUNNING'";


static void
ngx_http_sfn_metrics_store_read(void *data, void *res)
{
    ngx_http_sfn_main_conf_t *smcf = data;

    int                            i, n;
    size_t                         len;
    u_char                        *v;
    ngx_uint_t                     k;
    ngx_slab_pool_t               *shpool;
    ngx_http_sfn_metrics_t        *mt;
    ngx_http_sfn_metrics_table_t  *t;

    mt = smcf->metrics;

    if (res == NULL || mt == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) smcf->metrics_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    n = PQntuples(res);
    k = 0;

    for (i = 0; i < n; i++) {
        v = (u_char *) PQgetvalue(res, i, 1);

        if (PQgetisnull(res, i, 0)) {
            mt->oldest = PQgetisnull(res, i, 1)
                         ? 0 : (ngx_atomic_uint_t) ngx_atoi(v, ngx_strlen(v));
            continue;
        }

        if (k == NGX_HTTP_SFN_METRICS_TABLES) {
            continue;
        }

        t = &mt->tables[k++];

        len = ngx_min(PQgetlength(res, i, 0), NGX_HTTP_SFN_METRICS_TABLE_NAME);
        t->len = len;
        ngx_memcpy(t->name, PQgetvalue(res, i, 0), len);

        t->rows = (ngx_atomic_uint_t) ngx_atoi(v, ngx_strlen(v));
        v = (u_char *) PQgetvalue(res, i, 2);
        t->bytes = (ngx_atomic_uint_t) ngx_atoi(v, ngx_strlen(v));
    }

    mt->ntables = k;
    mt->store_read = (ngx_atomic_uint_t) ngx_http_sfn_now_ms();

    ngx_shmtx_unlock(&shpool->mutex);
}


/* asks for the store's figures if they are older than a few seconds */

static void
ngx_http_sfn_metrics_store_ask(ngx_http_sfn_main_conf_t *smcf)
{
    ngx_atomic_uint_t        now, asked;
    ngx_http_sfn_metrics_t  *mt;

    mt = smcf->metrics;
    now = (ngx_atomic_uint_t) ngx_http_sfn_now_ms();
    asked = mt->store_asked;

    if (smcf->database.len == 0
        || now - asked < NGX_HTTP_SFN_METRICS_STORE_AGE
        || !ngx_atomic_cmp_set(&mt->store_asked, asked, now))
    {
        return;
    }

    (void) ngx_http_sfn_pg_query_alone(ngx_http_sfn_metrics_store_sql, 0,
                                       NULL, ngx_http_sfn_metrics_store_read,
                                       smcf);
}


/* a label value: backslash, double quote and newline escaped */

static u_char *
ngx_http_sfn_metrics_label(u_char *p, u_char *name, size_t len)
{
    u_char  *last;

    for (last = name + len; name < last; name++) {
        switch (*name) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = *name;
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = *name;
        }
    }

    return p;
}


static u_char *
ngx_http_sfn_metrics_seconds(u_char *p, int64_t ms)
{
    return ngx_sprintf(p, "%L.%03L", ms / 1000, ms % 1000);
}


static u_char *
ngx_http_sfn_metrics_histogram(u_char *p, const char *metric,
    const char *label, u_char *name, size_t len, ngx_atomic_t *buckets,
    const int64_t *le, ngx_uint_t n, ngx_atomic_uint_t sum_ms)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  total;

    total = 0;

    for (i = 0; i <= n; i++) {
        total += buckets[i];

        p = ngx_sprintf(p, "%s_bucket{%s=\"", metric, label);
        p = ngx_http_sfn_metrics_label(p, name, len);

        if (i < n) {
            p = ngx_cpymem(p, "\",le=\"", 6);
            p = ngx_http_sfn_metrics_seconds(p, le[i]);
            p = ngx_sprintf(p, "\"} %uA\n", total);

        } else {
            p = ngx_sprintf(p, "\",le=\"+Inf\"} %uA\n", total);
        }
    }

    p = ngx_sprintf(p, "%s_sum{%s=\"", metric, label);
    p = ngx_http_sfn_metrics_label(p, name, len);
    p = ngx_cpymem(p, "\"} ", 3);
    p = ngx_http_sfn_metrics_seconds(p, (int64_t) sum_ms);

    p = ngx_sprintf(p, "\n%s_count{%s=\"", metric, label);
    p = ngx_http_sfn_metrics_label(p, name, len);

    return ngx_sprintf(p, "\"} %uA\n", total);
}


static u_char *
ngx_http_sfn_metrics_store(u_char *p, ngx_http_sfn_main_conf_t *smcf)
{
    ngx_uint_t                     i, n;
    ngx_slab_pool_t               *shpool;
    ngx_http_sfn_metrics_t        *mt;
    ngx_http_sfn_metrics_table_t  *t;

    mt = smcf->metrics;

    if (mt->store_read == 0) {
        return p;
    }

    shpool = (ngx_slab_pool_t *) smcf->metrics_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    n = ngx_min(mt->ntables, NGX_HTTP_SFN_METRICS_TABLES);

    p = ngx_sprintf(p, "# HELP sfn_store_rows Rows of each table "
                       "(PostgreSQL's estimate, pg_class.reltuples).\n"
                       "# TYPE sfn_store_rows gauge\n");

    for (i = 0; i < n; i++) {
        t = &mt->tables[i];
        p = ngx_cpymem(p, "sfn_store_rows{table=\"", 22);
        p = ngx_http_sfn_metrics_label(p, t->name, t->len);
        p = ngx_sprintf(p, "\"} %uA\n", t->rows);
    }

    p = ngx_sprintf(p, "# HELP sfn_store_bytes Bytes on disk of each table "
                       "with its indexes and TOAST "
                       "(pg_total_relation_size).\n"
                       "# TYPE sfn_store_bytes gauge\n");

    for (i = 0; i < n; i++) {
        t = &mt->tables[i];
        p = ngx_cpymem(p, "sfn_store_bytes{table=\"", 23);
        p = ngx_http_sfn_metrics_label(p, t->name, t->len);
        p = ngx_sprintf(p, "\"} %uA\n", t->bytes);
    }

    p = ngx_sprintf(p, "# HELP sfn_store_oldest_stop_timestamp_seconds "
                       "Stop date of the oldest closed execution kept "
                       "(0: none).\n"
                       "# TYPE sfn_store_oldest_stop_timestamp_seconds "
                       "gauge\n"
                       "sfn_store_oldest_stop_timestamp_seconds %uA\n"
                       "# HELP sfn_store_read_timestamp_seconds "
                       "When the store's figures were read.\n"
                       "# TYPE sfn_store_read_timestamp_seconds gauge\n"
                       "sfn_store_read_timestamp_seconds %uA\n",
                    mt->oldest, mt->store_read / 1000);

    ngx_shmtx_unlock(&shpool->mutex);

    return p;
}


static const struct {
    const char  *name;
    const char  *help;
} ngx_http_sfn_metrics_status[] = {
    { "sfn_executions_started_total", "Executions started." },
    { "sfn_executions_succeeded_total", "Executions that succeeded." },
    { "sfn_executions_failed_total", "Executions that failed." },
    { "sfn_executions_timed_out_total", "Executions that timed out." },
    { "sfn_executions_aborted_total", "Executions stopped (aborted)." }
};


static ngx_int_t
ngx_http_sfn_metrics_handler(ngx_http_request_t *r)
{
    u_char                           *p;
    size_t                            size;
    ngx_int_t                         rc;
    ngx_buf_t                        *b;
    ngx_uint_t                        i, s, nm, nr;
    ngx_uint_t                        w, nw;
    ngx_core_conf_t                  *ccf;
    ngx_atomic_uint_t                 started, finished, posted, done;
    ngx_http_sfn_metrics_t           *mt;
    ngx_http_sfn_main_conf_t         *smcf;
    ngx_http_sfn_metrics_machine_t   *m;
    ngx_http_sfn_metrics_resource_t  *t;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_sfn_module);
    mt = smcf->metrics;

    if (mt == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_http_sfn_metrics_store_ask(smcf);

    nm = ngx_min(mt->nmachines, NGX_HTTP_SFN_METRICS_MACHINES);
    nr = ngx_min(mt->nresources, NGX_HTTP_SFN_METRICS_RESOURCES);

    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);
    nw = ngx_min((ngx_uint_t) ccf->worker_processes,
                 NGX_HTTP_SFN_METRICS_WORKERS);

    /* every line is bounded: a name escapes to at most twice its length */

    size = 8192
           + nw * 4 * 128
           + NGX_HTTP_SFN_METRICS_TABLES * 2
             * (64 + 2 * NGX_HTTP_SFN_METRICS_TABLE_NAME)
           + nm * (5 + NGX_HTTP_SFN_METRICS_EXEC_BUCKETS + 3)
             * (128 + 2 * NGX_HTTP_SFN_METRICS_NAME)
           + nr * (2 + NGX_HTTP_SFN_METRICS_TASK_BUCKETS + 3)
             * (128 + 2 * NGX_HTTP_SFN_METRICS_NAME);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    started = 0;
    finished = 0;

    for (s = 0; s <= SFN_ABORTED; s++) {
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s counter\n",
                        ngx_http_sfn_metrics_status[s].name,
                        ngx_http_sfn_metrics_status[s].help,
                        ngx_http_sfn_metrics_status[s].name);

        for (i = 0; i < nm; i++) {
            m = &mt->machines[i];

            p = ngx_sprintf(p, "%s{state_machine=\"",
                            ngx_http_sfn_metrics_status[s].name);
            p = ngx_http_sfn_metrics_label(p, m->name, m->len);
            p = ngx_sprintf(p, "\"} %uA\n", m->status[s]);

            if (s == SFN_RUNNING) {
                started += m->status[s];

            } else {
                finished += m->status[s];
            }
        }
    }

    p = ngx_cpymem(p, "# HELP sfn_execution_duration_seconds "
                      "Run time of finished executions.\n"
                      "# TYPE sfn_execution_duration_seconds histogram\n",
                   sizeof("# HELP sfn_execution_duration_seconds "
                          "Run time of finished executions.\n"
                          "# TYPE sfn_execution_duration_seconds "
                          "histogram\n") - 1);

    for (i = 0; i < nm; i++) {
        m = &mt->machines[i];

        p = ngx_http_sfn_metrics_histogram(p,
                                         "sfn_execution_duration_seconds",
                                         "state_machine", m->name, m->len,
                                         m->buckets,
                                         ngx_http_sfn_metrics_exec_le,
                                         NGX_HTTP_SFN_METRICS_EXEC_BUCKETS,
                                         m->sum_ms);
    }

    p = ngx_sprintf(p, "# HELP sfn_task_duration_seconds "
                       "Run time of tasks on the thread pool.\n"
                       "# TYPE sfn_task_duration_seconds histogram\n");

    for (i = 0; i < nr; i++) {
        t = &mt->resources[i];

        p = ngx_http_sfn_metrics_histogram(p, "sfn_task_duration_seconds",
                                         "resource", t->name, t->len,
                                         t->buckets,
                                         ngx_http_sfn_metrics_task_le,
                                         NGX_HTTP_SFN_METRICS_TASK_BUCKETS,
                                         t->sum_ms);
    }

    p = ngx_sprintf(p, "# HELP sfn_task_failures_total "
                       "Tasks that failed, by resource.\n"
                       "# TYPE sfn_task_failures_total counter\n");

    for (i = 0; i < nr; i++) {
        t = &mt->resources[i];

        p = ngx_cpymem(p, "sfn_task_failures_total{resource=\"", 34);
        p = ngx_http_sfn_metrics_label(p, t->name, t->len);
        p = ngx_sprintf(p, "\"} %uA\n", t->failed);
    }

    posted = mt->tasks_posted;
    done = mt->tasks_done;

    p = ngx_sprintf(p, "# HELP sfn_executions_running "
                       "Executions started and not yet finished.\n"
                       "# TYPE sfn_executions_running gauge\n"
                       "sfn_executions_running %uA\n"
                       "# HELP sfn_tasks_in_flight "
                       "Tasks posted to the thread pool and not completed "
                       "(queued or running).\n"
                       "# TYPE sfn_tasks_in_flight gauge\n"
                       "sfn_tasks_in_flight %uA\n"
                       "# HELP sfn_tasks_posted_total "
                       "Tasks posted to the thread pool.\n"
                       "# TYPE sfn_tasks_posted_total counter\n"
                       "sfn_tasks_posted_total %uA\n"
                       "# HELP sfn_database_queue_pending "
                       "Statements this worker has not yet committed "
                       "(0 or 1: the writer exposes no count).\n"
                       "# TYPE sfn_database_queue_pending gauge\n"
                       "sfn_database_queue_pending %d\n"
                       "# HELP sfn_metrics_dropped_total "
                       "Samples lost because the metrics table is full.\n"
                       "# TYPE sfn_metrics_dropped_total counter\n"
                       "sfn_metrics_dropped_total %uA\n",
                    started > finished ? started - finished : 0,
                    posted > done ? posted - done : 0,
                    posted,
                    ngx_http_sfn_pg_sync() == NGX_AGAIN ? 1 : 0,
                    mt->dropped);

    p = ngx_sprintf(p, "# HELP sfn_database_connections "
                       "Open PostgreSQL connections of each worker: its "
                       "writer's, its reader's, its database tasks' pool and "
                       "retention's.\n"
                       "# TYPE sfn_database_connections gauge\n");

    for (w = 0; w < nw; w++) {
        p = ngx_sprintf(p, "sfn_database_connections"
                           "{worker=\"%ui\",use=\"writer\"} %uA\n"
                           "sfn_database_connections"
                           "{worker=\"%ui\",use=\"tasks\"} %uA\n"
                           "sfn_database_connections"
                           "{worker=\"%ui\",use=\"retention\"} %uA\n"
                           "sfn_database_connections"
                           "{worker=\"%ui\",use=\"reader\"} %uA\n",
                        w, mt->connections[w][0], w, mt->connections[w][1],
                        w, mt->connections[w][2], w, mt->connections[w][3]);
    }

    p = ngx_sprintf(p, "# HELP sfn_retention_executions_deleted_total "
                       "Closed executions deleted past sfn_retention.\n"
                       "# TYPE sfn_retention_executions_deleted_total "
                       "counter\n"
                       "sfn_retention_executions_deleted_total %uA\n"
                       "# HELP sfn_retention_rows_deleted_total "
                       "Rows deleted by retention: executions, history, "
                       "payloads, tokens, mail, jobs.\n"
                       "# TYPE sfn_retention_rows_deleted_total counter\n"
                       "sfn_retention_rows_deleted_total %uA\n",
                    mt->retention_executions, mt->retention_rows);

    p = ngx_http_sfn_metrics_store(p, smcf);

    b->last = p;

    return ngx_http_sfn_send(r, NGX_HTTP_OK,
                             "text/plain; version=0.0.4; charset=utf-8", b);
}
