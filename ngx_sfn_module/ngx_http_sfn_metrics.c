
/*
 * Copyright (C) ngx_sfn authors
 *
 * Prometheus metrics.  "sfn_metrics" serves the text exposition format;
 * the counters live in a small shared zone of their own ("sfn_metrics"),
 * so every worker adds to the same numbers and a reload keeps them.  The
 * execution driver reports through ngx_http_sfn_metrics_exec() and
 * ngx_http_sfn_metrics_task(); updates are lock-free atomics, only the
 * first sighting of a state machine or resource takes the zone's mutex.
 */


#include "ngx_http_sfn_module.h"


#define NGX_HTTP_SFN_METRICS_ZONE       (256 * 1024)
#define NGX_HTTP_SFN_METRICS_MACHINES   128
#define NGX_HTTP_SFN_METRICS_RESOURCES  64
#define NGX_HTTP_SFN_METRICS_NAME       128

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

    nm = ngx_min(mt->nmachines, NGX_HTTP_SFN_METRICS_MACHINES);
    nr = ngx_min(mt->nresources, NGX_HTTP_SFN_METRICS_RESOURCES);

    /* every line is bounded: a name escapes to at most twice its length */

    size = 4096
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

    b->last = p;

    return ngx_http_sfn_send(r, NGX_HTTP_OK,
                             "text/plain; version=0.0.4; charset=utf-8", b);
}
