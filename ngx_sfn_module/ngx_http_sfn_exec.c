
/*
 * Copyright (C) ngx_sfn authors
 *
 * The event-loop driver of executions: a run's life from start to finish
 * (created, stepped, committed to PostgreSQL, finished, freed) and the
 * engine's host callbacks mapped onto nginx timers and the shared zone.
 * Tasks, leases and mail have files of their own.  An execution is
 * stepped only by the worker that owns it.
 */


#include "ngx_http_sfn_exec.h"
#include "ngx_http_sfn_maprun.h"

#include <ngx_sha1.h>
#include <libpq-fe.h>


/* the share of one turn of the event loop that interpretation may take */
#define NGX_HTTP_SFN_SLICE         5

/* a string of an event's details this long is kept once per execution */
#define NGX_HTTP_SFN_PAYLOAD_MIN   1024

/* the events of a step go out in statements of about this size */
#define NGX_HTTP_SFN_EVENTS_MAX    (256 * 1024)

/* a finished history this long is packed in its row: sql/006's maximum */
#define NGX_HTTP_SFN_HISTORY_PACKED  256

/* a step PostgreSQL's queue had no memory for is queued again after */
#define NGX_HTTP_SFN_RECOMMIT      100


ngx_queue_t                    ngx_http_sfn_runs;
ngx_http_sfn_main_conf_t      *ngx_http_sfn_smcf;
u_char                         ngx_http_sfn_owner[NGX_MAXHOSTNAMELEN + 32];
ngx_uint_t                     ngx_http_sfn_durable;

/* the run whose held event is being applied: it is not paced for it */
ngx_http_sfn_run_t            *ngx_http_sfn_resuming;


static ngx_uint_t              ngx_http_sfn_ephemeral;

/* what the next run started tells when it ends: a map run's child */
static ngx_http_sfn_finish_pt  ngx_http_sfn_child_finish;
static void                   *ngx_http_sfn_child_data;
static ngx_str_t              *ngx_http_sfn_child_map_run;
static sfn_exec_t             *ngx_http_sfn_child_parent;

/* the pool of the last run freed, reset for the next: no malloc per run */
static ngx_pool_t             *ngx_http_sfn_spare_pool;

/* the last execution that finished here, for a synchronous caller */
static ngx_http_sfn_record_t   ngx_http_sfn_last;
static u_char                 *ngx_http_sfn_last_buf;
static size_t                  ngx_http_sfn_last_size;


static void ngx_http_sfn_run_commit(ngx_http_sfn_run_t *run,
    const char *state);
static void ngx_http_sfn_run_stop_timers(ngx_http_sfn_run_t *run);
static void ngx_http_sfn_timer_release(ngx_http_sfn_timer_t *t);
static void ngx_http_sfn_run_flush_events(ngx_http_sfn_run_t *run);
static void ngx_http_sfn_run_insert(ngx_http_sfn_run_t *run,
    sfn_status_e status);
static void ngx_http_sfn_keep_last(ngx_http_sfn_run_t *run,
    ngx_http_sfn_record_t *rec);
static void ngx_http_sfn_run_drop_held(ngx_http_sfn_run_t *run);


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


static void
ngx_http_sfn_timer_handler(ngx_event_t *ev)
{
    ngx_http_sfn_timer_t  *t = ev->data;

    uint64_t             id;
    ngx_http_sfn_run_t  *run;

    run = t->run;
    id = t->node.key;

    /* with no memory to hold it, it goes on rather than be lost */

    if (ngx_http_sfn_run_paced(run)
        && ngx_http_sfn_run_hold(run, ev, NULL) == NGX_OK)
    {
        return;
    }

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
    ngx_queue_t          *q, *next;
    ngx_http_sfn_run_t   *run;
    ngx_http_sfn_held_t  *h;

    run = t->run;

    if (t->ev.timer_set) {
        ngx_del_timer(&t->ev);
    }

    if (t->ev.posted) {
        ngx_delete_posted_event(&t->ev);
    }

    /*
     * a firing held for the commit and cancelled meanwhile (a task's
     * timeout once the task has answered) or armed again must not fire
     * later, on a timer freed, given to another id or due later
     */

    for (q = ngx_queue_head(&run->held);
         q != ngx_queue_sentinel(&run->held);
         q = next)
    {
        next = ngx_queue_next(q);
        h = ngx_queue_data(q, ngx_http_sfn_held_t, queue);

        if (h->ev == &t->ev) {
            ngx_queue_remove(q);
            ngx_queue_insert_tail(&run->free_held, q);
        }
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
 * The strings of an event's details that are 1 KiB or more are kept once
 * per execution (sql/005_history_payloads.sql): the event refers to them
 * by their SHA-1, so a loop carrying 200 KB stores it once, not per event.
 * A run remembers which it has queued; queueing one again (after a
 * recovery) is harmless.
 */

static void
ngx_http_sfn_payload_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t       **p;
    ngx_http_sfn_payload_t   *n, *t;

    for ( ;; ) {
        n = (ngx_http_sfn_payload_t *) node;
        t = (ngx_http_sfn_payload_t *) temp;

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            p = (ngx_memcmp(n->hash, t->hash, 20) < 0) ? &temp->left
                                                        : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_int_t
ngx_http_sfn_payload(ngx_http_sfn_run_t *run, const char *body, size_t len,
    u_char *hex)
{
    u_char                   md[20];
    ngx_int_t                rc;
    ngx_sha1_t               sha1;
    const char              *values[4];
    ngx_rbtree_key_t         key;
    ngx_rbtree_node_t       *node, *sentinel;
    ngx_http_sfn_payload_t  *pl;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, body, len);
    ngx_sha1_final(md, &sha1);

    *ngx_hex_dump(hex, md, 20) = '\0';

    ngx_memcpy(&key, md, sizeof(ngx_rbtree_key_t));

    node = run->payloads.root;
    sentinel = run->payloads.sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        pl = (ngx_http_sfn_payload_t *) node;
        rc = ngx_memcmp(md, pl->hash, 20);

        if (rc == 0) {
            return NGX_OK;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    pl = ngx_palloc(run->pool, sizeof(ngx_http_sfn_payload_t));
    if (pl == NULL) {
        return NGX_ERROR;
    }

    /* the execution's row first, which the payload's refers to */

    if (!run->inserted) {
        ngx_http_sfn_run_insert(run, SFN_RUNNING);
    }

    values[0] = (const char *) run->arn.data;
    values[1] = (const char *) hex;
    values[2] = body;
    values[3] = (const char *) ngx_http_sfn_owner;

    /* fenced as its events are: see ngx_http_sfn_run_flush_events() */

    if (ngx_http_sfn_pg_record(
            "INSERT INTO sfn_payloads (execution_arn, hash, body, "
            "start_date) "
            "SELECT $1, $2, $3, e.start_date FROM sfn_executions e "
            "WHERE e.arn = $1 AND e.owner = $4 AND e.history IS NULL "
            "ON CONFLICT DO NOTHING", 4, values, NULL, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pl->node.key = key;
    ngx_memcpy(pl->hash, md, 20);
    ngx_rbtree_insert(&run->payloads, &pl->node);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_sfn_payload_large(const cJSON *m)
{
    return cJSON_IsString(m) && m->valuestring
           && ngx_strlen(m->valuestring) >= NGX_HTTP_SFN_PAYLOAD_MIN;
}


/*
 * Details are {"<type>EventDetails": {...}}: the large strings are one
 * level in.  The copy printed refers to the engine's values, it does not
 * duplicate them; a string that could not be queued stays in the event.
 */

static char *
ngx_http_sfn_event_details(ngx_http_sfn_run_t *run, const cJSON *details)
{
    char         *text;
    cJSON        *copy, *inner, *ref;
    u_char        hex[41];
    ngx_uint_t    large;
    const cJSON  *o, *m;

    large = 0;

    for (o = details->child; o && !large; o = o->next) {
        if (!cJSON_IsObject(o)) {
            continue;
        }

        for (m = o->child; m; m = m->next) {
            if (ngx_http_sfn_payload_large(m)) {
                large = 1;
                break;
            }
        }
    }

    if (!large) {
        return cJSON_PrintUnformatted(details);
    }

    copy = cJSON_CreateObject();
    if (copy == NULL) {
        return NULL;
    }

    for (o = details->child; o; o = o->next) {

        if (!cJSON_IsObject(o)) {
            if (!cJSON_AddItemReferenceToObject(copy, o->string,
                                                (cJSON *) o))
            {
                goto failed;
            }

            continue;
        }

        inner = cJSON_AddObjectToObject(copy, o->string);
        if (inner == NULL) {
            goto failed;
        }

        for (m = o->child; m; m = m->next) {

            if (ngx_http_sfn_payload_large(m)
                && ngx_http_sfn_payload(run, m->valuestring,
                                        ngx_strlen(m->valuestring), hex)
                   == NGX_OK)
            {
                ref = cJSON_CreateObject();

                if (ref == NULL
                    || cJSON_AddStringToObject(ref, "sfn_payload",
                                               (char *) hex) == NULL
                    || !cJSON_AddItemToObject(inner, m->string, ref))
                {
                    cJSON_Delete(ref);
                    goto failed;
                }

                continue;
            }

            if (!cJSON_AddItemReferenceToObject(inner, m->string,
                                                (cJSON *) m))
            {
                goto failed;
            }
        }
    }

    text = cJSON_PrintUnformatted(copy);

    cJSON_Delete(copy);

    return text;

failed:

    cJSON_Delete(copy);

    return NULL;
}


/*
 * History events are gathered per step and written with one statement
 * (jsonb_to_recordset) per NGX_HTTP_SFN_EVENTS_MAX of them, in the same
 * transaction as the step itself.
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

    details = NULL;

    if (ev->details) {
        details = ngx_http_sfn_event_details(run, ev->details);

        if (details == NULL) {
            ngx_log_error(NGX_LOG_ALERT, run->log, 0,
                          "sfn execution \"%V\": the details of event %L "
                          "not recorded, no memory", &run->name, ev->id);
        }
    }

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
    run->events_n++;

    if (run->events_len >= NGX_HTTP_SFN_EVENTS_MAX) {
        ngx_http_sfn_run_flush_events(run);
    }

done:

    if (details) {
        cJSON_free(details);
    }
}


static void
ngx_http_sfn_run_insert(ngx_http_sfn_run_t *run, sfn_status_e status)
{
    u_char       ts[NGX_INT64_LEN + 1], stop[NGX_INT64_LEN + 1];
    ngx_uint_t   packed;
    const char  *values[19], *error;

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
    values[13] = NULL;
    values[14] = (const char *) run->trace.data;
    values[15] = run->sm->version.len ? (const char *) run->sm->version.data
                                      : NULL;
    values[16] = (const char *) run->alias.data;
    values[17] = run->mock ? sfn_mock_case_name(run->mock) : NULL;
    values[18] = (const char *) run->map_run.data;
    error = values[10];

    /*
     * one that ends in its first step has its whole history here: it goes
     * packed in the row (sql/006) unless it is too long for that
     */

    packed = (status != SFN_RUNNING && run->events_len
              && run->events_n <= NGX_HTTP_SFN_HISTORY_PACKED);

    if (packed) {
        run->events[run->events_len] = ']';
        run->events[run->events_len + 1] = '\0';
        values[13] = (const char *) run->events;
    }

    /*
     * a running one is owned and leased from the first moment: no scan
     * may claim it
     */

    if (ngx_http_sfn_pg_record(
            "INSERT INTO sfn_executions "
            "(arn, name, state_machine, type, status, input, start_date, "
            "owner, lease_until, job_id, output, error, cause, stop_date, "
            "history, trace_header, version_arn, alias_arn, "
            "mock_test_case, map_run, map_index) "
            "VALUES ($1, $2, $3, $4, $9, $5, "
            "to_timestamp($6::float8 / 1000), $7, "
            "CASE WHEN $9 = 'RUNNING' "
            "THEN now() + interval '" NGX_HTTP_SFN_LEASE "' END, "
            "$8, $10, $11, $12, "
            "CASE WHEN $9 = 'RUNNING' THEN NULL "
            "ELSE to_timestamp($13::float8 / 1000) END, "
            "sfn_history_pack($14::jsonb), $15, $16, $17, $18, $19::text, "
            "CASE WHEN $19::text IS NOT NULL "
            "THEN substr($2, " NGX_HTTP_SFN_MR_INDEX_AT ")::bigint END) "
            "ON CONFLICT DO NOTHING", 19, values, NULL, NULL)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, run->log, 0,
                      "sfn execution \"%V\" not recorded, no memory",
                      &run->name);

    } else if (packed) {
        run->events_len = 0;
        run->events_n = 0;
    }

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

    if (ngx_http_sfn_pg_record(
            "INSERT INTO sfn_jobs "
            "(job_id, execution_arn, state_machine, bucket, key, status, "
            "attributes) "
            "VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 = 'RUNNING' "
            "THEN '{}'::jsonb ELSE jsonb_build_object('executionStatus', "
            "$6::text, 'error', $7::text) END) "
            "ON CONFLICT (job_id) DO NOTHING", 7, values, NULL, NULL)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, run->log, 0,
                      "sfn execution \"%V\": job \"%V\" not recorded, "
                      "no memory", &run->name, &run->job);
    }
}


/*
 * Events are written only by the execution's owner, and only while its
 * history is kept in rows, under the lock of its row: the check sees the
 * last committed owner and holds off a claim until this commits.  So a
 * batch sent again after its commit's reply was lost (the end has packed
 * the history and deleted the rows), or the writes of a worker whose lease
 * ran out while it could not reach the database (another resumed the
 * execution, perhaps ended it), insert nothing: no event is recorded twice,
 * and the ids of those that were, (execution, id) is the key, are kept.
 */

static void
ngx_http_sfn_run_flush_events(ngx_http_sfn_run_t *run)
{
    const char  *values[3];

    if (run->events_len == 0) {
        return;
    }

    /* the row first: events may go out before the step that inserts it */

    if (!run->inserted) {
        ngx_http_sfn_run_insert(run, SFN_RUNNING);
    }

    /* the room for "]" and the NUL was counted with the last event */

    run->events[run->events_len] = ']';
    run->events[run->events_len + 1] = '\0';

    values[0] = (const char *) run->arn.data;
    values[1] = (const char *) run->events;
    values[2] = (const char *) ngx_http_sfn_owner;

    if (ngx_http_sfn_pg_record(
            "WITH e AS (SELECT arn, start_date FROM sfn_executions "
            "WHERE arn = $1 AND owner = $3 AND history IS NULL "
            "FOR NO KEY UPDATE) "
            "INSERT INTO sfn_history "
            "(execution_arn, id, previous_id, type, ts, details, start_date) "
            "SELECT e.arn, x.id, x.prev, x.type, "
            "to_timestamp(x.ts / 1000.0), x.details, e.start_date "
            "FROM e, jsonb_to_recordset($2::jsonb) AS "
            "x(id bigint, prev bigint, type text, ts float8, details jsonb) "
            "ON CONFLICT DO NOTHING", 3, values, NULL, NULL)
        != NGX_OK)
    {
        /* no memory: they stay, and go with the next statement */
        return;
    }

    run->events_len = 0;
    run->events_n = 0;
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
    ngx_http_sfn_host_yield,
    NULL,
    ngx_http_sfn_maprun_start
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


void
ngx_http_sfn_run_free(ngx_http_sfn_run_t *run)
{
    ngx_queue_t              *q;
    ngx_http_sfn_task_ctx_t  *ctx;

    ngx_http_sfn_run_stop_timers(run);

    if (run->resume.posted) {
        ngx_delete_posted_event(&run->resume);
    }

    if (run->recommit.timer_set) {
        ngx_del_timer(&run->recommit);
    }

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

        if (!ctx->in_thread) {
            sfn_task_call_free(&ctx->call);
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

    /*
     * an audit, not the execution's record: past sfn_database_queue it is
     * skipped, and ngx_http_sfn_pg.c warns once for the episode
     */

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

    ngx_http_sfn_run_drop_held(run);

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
        /*
         * the zone evicts finished executions for new ones, so this fails
         * only when it is full of running ones; that is logged there, and
         * a Standard execution is described from PostgreSQL
         */

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

    if (ngx_http_sfn_pg_record(
            "UPDATE sfn_executions SET status = $2, output = $3, "
            "error = $4, cause = $5, "
            "stop_date = to_timestamp($6::float8 / 1000), "
            "current_state = NULL, version = version + 1, "
            "lease_until = NULL, snapshot = NULL, "
            "history = sfn_history_fold($1) "
            "WHERE arn = $1 AND owner = $7 AND status = 'RUNNING'",
            7, values, NULL, NULL)
        != NGX_OK)
    {
        /* its lease runs out: a successor resumes it from its last step */

        ngx_log_error(NGX_LOG_ALERT, run->log, 0,
                      "sfn execution \"%V\": its end not recorded, "
                      "no memory", &run->name);
    }

    if (run->job.len) {
        values[0] = (const char *) run->job.data;
        values[2] = error;

        if (ngx_http_sfn_pg_record(
                "UPDATE sfn_jobs SET updated_at = now(), "
                "status = CASE WHEN status = 'RUNNING' THEN $2 "
                "ELSE status END, "
                "attributes = attributes || jsonb_build_object("
                "'executionStatus', $2::text, 'error', $3::text) "
                "WHERE job_id = $1", 3, values, NULL, NULL)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, run->log, 0,
                          "sfn execution \"%V\": the end of job \"%V\" "
                          "not recorded, no memory", &run->name, &run->job);
        }
    }
}


/*
 * Backpressure: a Standard run takes its next event (a timer, the engine
 * yielding included, a task's completion, mail) only once its last step
 * is recorded, so it has one step at most in PostgreSQL's queue and a
 * loop goes at the pace of the database.  What comes meanwhile waits here.
 */

ngx_int_t
ngx_http_sfn_run_hold(ngx_http_sfn_run_t *run, ngx_event_t *ev,
    ngx_http_sfn_msg_t *msg)
{
    ngx_queue_t          *q;
    ngx_http_sfn_held_t  *h;

    if (!ngx_queue_empty(&run->free_held)) {
        q = ngx_queue_head(&run->free_held);
        ngx_queue_remove(q);
        h = ngx_queue_data(q, ngx_http_sfn_held_t, queue);

    } else {
        h = ngx_palloc(run->pool, sizeof(ngx_http_sfn_held_t));
        if (h == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_memzero(h, sizeof(ngx_http_sfn_held_t));

    h->ev = ev;

    if (msg) {
        h->msg = *msg;

        if (ngx_http_sfn_pstr(run->pool, &msg->arn, &h->msg.arn) != NGX_OK
            || (msg->a.data
                && ngx_http_sfn_pstr(run->pool, &msg->a, &h->msg.a)
                   != NGX_OK)
            || (msg->b.data
                && ngx_http_sfn_pstr(run->pool, &msg->b, &h->msg.b)
                   != NGX_OK))
        {
            ngx_queue_insert_tail(&run->free_held, &h->queue);
            return NGX_ERROR;
        }
    }

    ngx_queue_insert_tail(&run->held, &h->queue);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, run->log, 0,
                   "sfn execution \"%V\" holds %s until its step commits",
                   &run->name, ev ? "an event" : "mail");

    return NGX_OK;
}


/*
 * One held event at a time, in order, each in a turn of the event loop of
 * its own: what it does may pace the run again, or end and free it (then
 * ngx_http_sfn_run_free() takes this event off the posted queue).
 */

static void
ngx_http_sfn_run_resume(ngx_event_t *ev)
{
    ngx_http_sfn_run_t *run = ev->data;

    ngx_queue_t          *q;
    ngx_event_t          *held;
    ngx_http_sfn_msg_t    msg;
    ngx_http_sfn_held_t  *h;

    while (run->commits == 0 && !ngx_queue_empty(&run->held)) {
        q = ngx_queue_head(&run->held);
        ngx_queue_remove(q);
        ngx_queue_insert_tail(&run->free_held, q);
        h = ngx_queue_data(q, ngx_http_sfn_held_t, queue);

        held = h->ev;
        msg = h->msg;

        if (!ngx_queue_empty(&run->held)) {
            ngx_post_event(&run->resume, &ngx_posted_next_events);
        }

        ngx_http_sfn_resuming = run;

        if (held) {
            held->handler(held);

        } else {
            ngx_http_sfn_msg_apply(run, &msg);
        }

        ngx_http_sfn_resuming = NULL;

        return;
    }
}


/*
 * A run that has ended (or was fenced out) applies nothing more: what it
 * held goes, but for its tasks' completions, which account for their
 * threads and free the run after the last.
 */

static void
ngx_http_sfn_run_drop_held(ngx_http_sfn_run_t *run)
{
    ngx_queue_t          *q;
    ngx_http_sfn_held_t  *h;

    while (!ngx_queue_empty(&run->held)) {
        q = ngx_queue_head(&run->held);
        ngx_queue_remove(q);
        ngx_queue_insert_tail(&run->free_held, q);
        h = ngx_queue_data(q, ngx_http_sfn_held_t, queue);

        if (h->ev && h->ev->handler != ngx_http_sfn_timer_handler) {
            ngx_post_event(h->ev, &ngx_posted_next_events);
        }
    }

    if (run->resume.posted) {
        ngx_delete_posted_event(&run->resume);
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
        ngx_http_sfn_task_cancel_all(run);
        ngx_http_sfn_run_stop_timers(run);
        ngx_http_sfn_run_drop_held(run);

    } else if (!run->finished) {
        ngx_http_sfn_task_post_deferred(run);
    }

    if (run->commits == 0 && !ngx_queue_empty(&run->held)) {
        ngx_post_event(&run->resume, &ngx_posted_next_events);
    }

    if (run->mail_waits && run->commits == 0 && !run->finished) {
        run->mail_waits = 0;
        ngx_http_sfn_mail_poll();
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

    if (snapshot == NULL
        || ngx_http_sfn_pg_record(
               "UPDATE sfn_executions SET current_state = $2, "
               "snapshot = $4, version = version + 1 WHERE arn = $1 "
               "AND owner = $3 AND status = 'RUNNING'", 4, values,
               ngx_http_sfn_run_committed, run)
           != NGX_OK)
    {
        /*
         * no memory for it: the run stays paced (commits counts this
         * step) and its tasks wait, until the step is queued again
         */

        ngx_log_error(NGX_LOG_ERR, run->log, 0,
                      "sfn execution \"%V\": step not queued, no memory; "
                      "retried", &run->name);

        ngx_add_timer(&run->recommit, NGX_HTTP_SFN_RECOMMIT);
    }

    free(snapshot);
}


static void
ngx_http_sfn_run_recommit(ngx_event_t *ev)
{
    ngx_http_sfn_run_t *run = ev->data;

    run->commits--;

    ngx_http_sfn_run_flush_events(run);
    ngx_http_sfn_run_commit(run, run->state);
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


/*
 * The ARN of an execution, NUL-terminated; names are unique per machine.
 * AWS names Express executions "arn:aws:states:R:A:express:MACHINE:NAME:ID";
 * their name is unique here, so this node leaves out the trailing id.
 */

u_char *
ngx_http_sfn_exec_arn(ngx_http_sfn_main_conf_t *smcf, sfn_type_e type,
    ngx_str_t *machine, ngx_str_t *name, ngx_pool_t *pool, ngx_str_t *arn)
{
    u_char  *p;

    arn->len = sizeof("arn:aws:states:::execution::") - 1
               + smcf->region.len + smcf->account.len + machine->len
               + name->len;
    arn->data = ngx_pnalloc(pool, arn->len + 1);
    if (arn->data == NULL) {
        return NULL;
    }

    p = ngx_sprintf(arn->data, "arn:aws:states:%V:%V:%s:%V:%V",
                    &smcf->region, &smcf->account,
                    type == SFN_EXPRESS ? "express" : "execution",
                    machine, name);
    *p = '\0';
    arn->len = p - arn->data;

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
    ngx_str_t *alias, const sfn_mock_case_t *mock, ngx_str_t *arn,
    ngx_pool_t *pool)
{
    ngx_int_t  rc;

    ngx_http_sfn_ephemeral = 1;

    rc = ngx_http_sfn_exec_start(smcf, sm, name, input, NULL, NULL, NULL,
                                 NULL, alias, mock, arn, pool);

    ngx_http_sfn_ephemeral = 0;

    return rc;
}


/*
 * A map run's child: an Express one lives in this worker only, with no
 * record (as AWS, it is not described); a Standard one is an execution
 * as any other.  handler is called when it ends, from this worker.
 */

ngx_int_t
ngx_http_sfn_exec_start_child(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *name, ngx_str_t *input,
    ngx_str_t *map_run, ngx_http_sfn_finish_pt handler, void *data,
    sfn_exec_t *parent, ngx_pool_t *pool)
{
    ngx_int_t  rc;

    ngx_http_sfn_ephemeral = (sm->type == SFN_EXPRESS);
    ngx_http_sfn_child_finish = handler;
    ngx_http_sfn_child_data = data;
    ngx_http_sfn_child_map_run = map_run;
    ngx_http_sfn_child_parent = parent;

    rc = ngx_http_sfn_exec_start(smcf, sm, name, input, NULL, NULL, NULL,
                                 NULL, NULL, sfn_exec_mock_case(parent), NULL,
                                 pool);

    ngx_http_sfn_ephemeral = 0;
    ngx_http_sfn_child_finish = NULL;
    ngx_http_sfn_child_data = NULL;
    ngx_http_sfn_child_map_run = NULL;
    ngx_http_sfn_child_parent = NULL;

    return rc;
}


void
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

            /* the current state, for display: a cache, failure logged */

            (void) ngx_http_sfn_shm_put(run->smcf, &rec);
        }

        if (run->durable && !run->lost) {
            if (!run->inserted) {
                ngx_http_sfn_run_insert(run, SFN_RUNNING);
            }

            ngx_http_sfn_run_flush_events(run);
            ngx_http_sfn_run_commit(run, state);

        } else {
            ngx_http_sfn_task_post_deferred(run);
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


ngx_http_sfn_run_t *
ngx_http_sfn_run_create(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *name, ngx_str_t *input,
    ngx_str_t *job, int64_t start_ms, const char *snapshot,
    ngx_http_sfn_redrive_t *redrive, const sfn_mock_case_t *mock,
    ngx_log_t *log)
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
    run->mock = mock;
    run->durable = (sm->type == SFN_STANDARD
                    && smcf->database.len != 0);
    run->inserted = 1;

    ngx_rbtree_init(&run->timer_tree, &run->timer_sentinel,
                    ngx_rbtree_insert_value);
    ngx_queue_init(&run->timers);
    ngx_queue_init(&run->free_timers);
    ngx_queue_init(&run->tasks);
    ngx_queue_init(&run->held);
    ngx_queue_init(&run->free_held);

    run->resume.handler = ngx_http_sfn_run_resume;
    run->resume.data = run;
    run->resume.log = ngx_cycle->log;

    run->recommit.handler = ngx_http_sfn_run_recommit;
    run->recommit.data = run;
    run->recommit.log = ngx_cycle->log;

    ngx_rbtree_init(&run->payloads, &run->payload_sentinel,
                    ngx_http_sfn_payload_insert);

    if (ngx_http_sfn_pstr(pool, name, &run->name) != NGX_OK) {
        goto failed;
    }

    if (ngx_http_sfn_exec_arn(smcf, sm->type, &sm->name, name, pool,
                              &run->arn)
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
    conf.role_arn = (const char *) sm->role.data;
    conf.type = sm->type;
    conf.start_ms = start_ms;
    conf.mock = mock;
    conf.mock_parent = ngx_http_sfn_child_parent;

    if (snapshot && *snapshot) {
        run->exec = sfn_exec_restore(sm->machine, &host, mock, snapshot,
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

    if (redrive) {
        if (redrive->map_run.len
            && ngx_http_sfn_pstr(pool, &redrive->map_run,
                                 &run->redrive_map_run)
               != NGX_OK)
        {
            goto failed;
        }

        run->redrive_map_count = redrive->map_run_count;

        run->exec = sfn_exec_redrive(sm->machine, &host, &conf,
                                     (const char *) input->data, input->len,
                                     (const char *) redrive->state.data,
                                     (const char *) redrive->input.data,
                                     redrive->input.len, redrive->event_id,
                                     (unsigned) redrive->count, &error,
                                     &cause);
        if (run->exec == NULL) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "sfn execution \"%V\" not redriven: %s: %s",
                          name, error, cause);
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
    ngx_str_t *job, ngx_str_t *bucket, ngx_str_t *key, ngx_str_t *trace,
    ngx_str_t *alias, const sfn_mock_case_t *mock, ngx_str_t *arn,
    ngx_pool_t *rpool)
{
    int64_t                 now;
    ngx_str_t               id;
    ngx_http_sfn_run_t     *run;
    ngx_http_sfn_record_t   rec;

    /* backpressure: the worker's queue for PostgreSQL is past its mark */

    if (sm->type == SFN_STANDARD && smcf->database.len
        && !ngx_http_sfn_ephemeral && ngx_http_sfn_pg_busy() == NGX_BUSY)
    {
        return NGX_BUSY;
    }

    if (!ngx_http_sfn_ephemeral) {
        if (ngx_http_sfn_exec_arn(smcf, sm->type, &sm->name, name, rpool,
                                  &id)
            == NULL)
        {
            return NGX_ERROR;
        }

        if (ngx_http_sfn_shm_get(smcf, &id, rpool, &rec) == NGX_OK) {
            return NGX_DECLINED;
        }
    }

    now = ngx_http_sfn_now_ms();

    run = ngx_http_sfn_run_create(smcf, sm, name, input, job, now, NULL,
                                  NULL, mock, rpool->log);
    if (run == NULL) {
        return NGX_ERROR;
    }

    /* the run may end inside sfn_exec_start(): the caller gets a copy */

    if (arn) {
        arn->len = run->arn.len;
        arn->data = ngx_pstrdup(rpool, &run->arn);
        if (arn->data == NULL) {
            goto failed;
        }
    }

    run->ephemeral = ngx_http_sfn_ephemeral;
    run->on_finish = ngx_http_sfn_child_finish;
    run->on_finish_data = ngx_http_sfn_child_data;

    if (!run->ephemeral) {
        ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));
        rec.name = run->name;
        rec.arn = run->arn;
        rec.machine = sm->name;
        rec.input = *input;
        rec.durable = run->durable;
        rec.status = SFN_RUNNING;
        rec.start_ms = now;

        if (trace) {
            rec.trace = *trace;
        }

        rec.version = sm->version;

        if (alias) {
            rec.alias = *alias;
        }

        /*
         * the zone is full of running executions (logged there): refused
         * before it starts, rather than run with no record to describe
         */

        if (ngx_http_sfn_shm_put(smcf, &rec) == NGX_ERROR) {
            sfn_exec_free(run->exec);
            ngx_destroy_pool(run->pool);
            return NGX_BUSY;
        }
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
                       != NGX_OK)
            || (trace
                && ngx_http_sfn_pstr(run->pool, trace, &run->trace)
                   != NGX_OK)
            || (alias
                && ngx_http_sfn_pstr(run->pool, alias, &run->alias)
                   != NGX_OK)
            || (ngx_http_sfn_child_map_run
                && ngx_http_sfn_pstr(run->pool, ngx_http_sfn_child_map_run,
                                     &run->map_run)
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


ngx_http_sfn_run_t *
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
ngx_http_sfn_exec_init_process(ngx_cycle_t *cycle)
{
    ngx_queue_init(&ngx_http_sfn_runs);

    ngx_http_sfn_random_reset();

    ngx_http_sfn_smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                        ngx_http_sfn_module);

    ngx_http_sfn_mail_init(cycle);

    *ngx_sprintf(ngx_http_sfn_owner, "%V:%P", &cycle->hostname, ngx_pid)
        = '\0';

    if (ngx_http_sfn_smcf->database.len) {
        ngx_http_sfn_lease_init(cycle);
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
