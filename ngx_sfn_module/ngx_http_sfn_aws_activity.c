
/*
 * Copyright (C) ngx_sfn authors
 *
 * Activities (sql/013_activities.sql): CreateActivity, DescribeActivity,
 * DeleteActivity, ListActivities, the tasks a Task state queues for an
 * activity, and GetActivityTask, the long poll of their workers.
 *
 * A poll holds its request, never the event loop: it asks PostgreSQL for
 * a queued task once, and if there is none waits in this worker's list of
 * the activity until a NOTIFY sfn_activity (from any worker of any node)
 * says one was queued, or 60 seconds have passed (then {}, as AWS).  One
 * claim at a time per activity and worker goes to the database for the
 * waiting polls, oldest first; a claim that finds a task asks again for
 * the next poll.  A poll whose client has gone is no longer asked for, and
 * a task taken for it meanwhile is queued again: it reaches a worker that
 * is still there.
 */


#include "ngx_http_sfn_aws.h"
#include "ngx_http_sfn_exec.h"


#define NGX_HTTP_SFN_AWS_POLL_TIME    60000
#define NGX_HTTP_SFN_AWS_POLL_TICK    1000
#define NGX_HTTP_SFN_AWS_ACTIVITIES   'A'


/* an activity this worker holds polls for */
typedef struct {
    ngx_queue_t                  queue;
    ngx_queue_t                  polls;     /* waiting, oldest first */
    ngx_uint_t                   refs;      /* of polls and claims */
    ngx_uint_t                   notified;  /* NOTIFYs seen */
    unsigned                     claiming:1;
    unsigned                     again:1;
    ngx_str_t                    arn;       /* a C string after this */
} ngx_http_sfn_activity_t;


typedef struct ngx_http_sfn_poll_s  ngx_http_sfn_poll_t;


/* a claim in flight; it outlives its poll if the client goes */
typedef struct {
    ngx_http_sfn_poll_t         *poll;
    ngx_http_sfn_activity_t     *act;
    unsigned                     waiting:1; /* the activity's claim */
} ngx_http_sfn_claim_t;


struct ngx_http_sfn_poll_s {
    ngx_queue_t                  queue;     /* in act->polls */
    ngx_queue_t                  all;       /* in the worker's list */
    ngx_http_sfn_aws_ctx_t      *ctx;
    ngx_http_sfn_activity_t     *act;
    ngx_http_sfn_claim_t        *claim;
    ngx_event_t                  timer;
    ngx_uint_t                   gen;       /* act->notified at the claim */
    ngx_str_t                    worker;    /* a C string */
    unsigned                     waiting:1;
    unsigned                     done:1;
};


/* the schedule of a task, until its row has committed */
typedef struct {
    uint64_t                     task;
    ngx_str_t                    arn;       /* the execution's */
    ngx_str_t                    activity;
} ngx_http_sfn_enqueue_t;


static void ngx_http_sfn_activity_wake(ngx_http_sfn_activity_t *act);
static ngx_int_t ngx_http_sfn_activity_claim(ngx_http_sfn_poll_t *poll,
    ngx_uint_t waiting);


static ngx_queue_t   ngx_http_sfn_activities;
static ngx_queue_t   ngx_http_sfn_polls;
static ngx_event_t   ngx_http_sfn_poll_tick;


/* the activity's ARN as this node spells it */

static ngx_int_t
ngx_http_sfn_activity_arn(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *name,
    ngx_str_t *arn)
{
    arn->len = sizeof("arn:aws:states:::activity:") - 1
               + ctx->smcf->region.len + ctx->smcf->account.len + name->len;
    arn->data = ngx_pnalloc(ctx->r->pool, arn->len + 1);

    if (arn->data == NULL) {
        return NGX_ERROR;
    }

    *ngx_sprintf(arn->data, "arn:aws:states:%V:%V:activity:%V",
                 &ctx->smcf->region, &ctx->smcf->account, name) = '\0';

    return NGX_OK;
}


/*
 * activityArn: InvalidArn unless an activity's ARN; NGX_DECLINED (and
 * ActivityDoesNotExist set) for one of another region or account
 */

static ngx_int_t
ngx_http_sfn_activity_field(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *arn)
{
    u_char     *p;
    ngx_str_t   name, mine;

    if (ngx_http_sfn_aws_field(ctx, "activityArn", 1, arn) != NGX_OK
        || ngx_http_sfn_aws_length(ctx, "activityArn", arn, 256) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!sfn_resource_activity((char *) arn->data)) {
        return ngx_http_sfn_aws_invalid(ctx, "InvalidArn",
                                        "Invalid Arn: 'Resource type not "
                                        "valid in this context: %V'", arn);
    }

    p = (u_char *) ngx_strstr(arn->data + sizeof("arn:aws:states:") - 1,
                              ":activity:");

    name.data = p + sizeof(":activity:") - 1;
    name.len = arn->data + arn->len - name.data;

    if (ngx_http_sfn_activity_arn(ctx, &name, &mine) != NGX_OK) {
        return NGX_ERROR;
    }

    if (mine.len != arn->len || ngx_strcmp(mine.data, arn->data) != 0) {
        (void) ngx_http_sfn_aws_invalid(ctx, "ActivityDoesNotExist",
                                        "Activity Does Not Exist: '%V'",
                                        arn);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_activity_no_database(ngx_http_sfn_aws_ctx_t *ctx)
{
    return ngx_http_sfn_aws_reply_error(ctx, "ServiceUnavailable",
                                        "activities need sfn_database");
}


/* CreateActivity: idempotent by name, as AWS (the tags of a repeat are
 * ignored) */

static ngx_int_t
ngx_http_sfn_activity_created(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON  *json;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the activity was not created");
    }

    json = cJSON_CreateObject();

    if (json == NULL
        || cJSON_AddStringToObject(json, "activityArn",
                                   PQgetvalue(res, 0, 0)) == NULL
        || cJSON_AddNumberToObject(json, "creationDate",
                                   ngx_http_sfn_aws_epoch(res, 0, 1)) == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_create_activity(ngx_http_sfn_aws_ctx_t *ctx)
{
    char        *tags;
    ngx_str_t    name, arn;
    const char  *values[3];

    if (ngx_http_sfn_aws_field(ctx, "name", 1, &name) != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (!ngx_http_sfn_aws_name_valid(&name)) {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidName",
                                            "Invalid Name: 'the name must "
                                            "have 1 to 80 characters, none "
                                            "of them white space, brackets, "
                                            "wildcards, special or control "
                                            "characters'");
    }

    tags = ngx_http_sfn_aws_tags(ctx,
                        cJSON_GetObjectItemCaseSensitive(ctx->body, "tags"));
    if (tags == NULL) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_activity_no_database(ctx);
    }

    if (ngx_http_sfn_activity_arn(ctx, &name, &arn) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = (char *) name.data;
    values[1] = (char *) arn.data;
    values[2] = tags;

    return ngx_http_sfn_aws_query(ctx,
               "WITH i AS (INSERT INTO sfn_activities (name, arn, tags) "
               "VALUES ($1, $2, $3::jsonb) ON CONFLICT (name) DO NOTHING "
               "RETURNING arn, created_at) "
               "SELECT arn, extract(epoch FROM created_at) FROM i "
               "UNION ALL SELECT arn, extract(epoch FROM created_at) "
               "FROM sfn_activities WHERE name = $1 LIMIT 1",
               3, values, ngx_http_sfn_activity_created);
}


/* DescribeActivity */

static ngx_int_t
ngx_http_sfn_activity_described(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    cJSON  *json;

    if (res == NULL || PQntuples(res) == 0) {
        return ngx_http_sfn_aws_reply_error(ctx, "ActivityDoesNotExist",
                                            "Activity Does Not Exist: '%V'",
                                            &ctx->arn);
    }

    json = cJSON_CreateObject();

    if (json == NULL
        || cJSON_AddStringToObject(json, "activityArn",
                                   PQgetvalue(res, 0, 0)) == NULL
        || cJSON_AddStringToObject(json, "name", PQgetvalue(res, 0, 1))
           == NULL
        || cJSON_AddNumberToObject(json, "creationDate",
                                   ngx_http_sfn_aws_epoch(res, 0, 2)) == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_describe_activity(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t    rc;
    const char  *values[1];

    rc = ngx_http_sfn_activity_field(ctx, &ctx->arn);

    if (rc != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_activity_no_database(ctx);
    }

    values[0] = (char *) ctx->arn.data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT arn, name, extract(epoch FROM created_at) "
               "FROM sfn_activities WHERE arn = $1",
               1, values, ngx_http_sfn_activity_described);
}


/*
 * DeleteActivity: tasks already queued stay queued (a new activity of the
 * same name takes them); its waiting polls are told it has gone
 */

static ngx_int_t
ngx_http_sfn_activity_deleted(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    if (res == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the activity was not deleted");
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, cJSON_CreateObject());
}


ngx_int_t
ngx_http_sfn_aws_delete_activity(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t    rc;
    const char  *values[1];

    rc = ngx_http_sfn_activity_field(ctx, &ctx->arn);

    if (rc == NGX_DECLINED) {
        /* none of ours: as AWS, deleting what is not there is no error */
        return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK,
                                     cJSON_CreateObject());
    }

    if (rc != NGX_OK) {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_activity_no_database(ctx);
    }

    values[0] = (char *) ctx->arn.data;

    return ngx_http_sfn_aws_query_alone(ctx,
               "WITH d AS (DELETE FROM sfn_activities WHERE arn = $1 "
               "RETURNING arn) SELECT pg_notify('sfn_activity', arn) FROM d",
               1, values, ngx_http_sfn_activity_deleted);
}


/* ListActivities: by name; the cursor is the last name given */

static ngx_int_t
ngx_http_sfn_activity_listed(ngx_http_sfn_aws_ctx_t *ctx, PGresult *res)
{
    int     i, n;
    cJSON  *json, *list, *item;

    if (res == NULL) {
        return ngx_http_sfn_aws_reply_error(ctx, "InternalFailure",
                                            "the activities were not read");
    }

    json = ngx_http_sfn_aws_list_reply("activities", &list);

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = PQntuples(res);

    for (i = 0; i < n && i < ctx->limit; i++) {
        item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "activityArn", PQgetvalue(res, i, 0));
        cJSON_AddStringToObject(item, "name", PQgetvalue(res, i, 1));
        cJSON_AddNumberToObject(item, "creationDate",
                                ngx_http_sfn_aws_epoch(res, i, 2));
    }

    if (n > ctx->limit
        && ngx_http_sfn_aws_next_token(ctx, json,
               NGX_HTTP_SFN_AWS_ACTIVITIES, &ctx->bind,
               (u_char *) PQgetvalue(res, ctx->limit - 1, 1),
               PQgetlength(res, ctx->limit - 1, 1))
           != NGX_OK)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_aws_send(ctx->r, NGX_HTTP_OK, json);
}


ngx_int_t
ngx_http_sfn_aws_list_activities(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_str_t    name;
    const char  *values[2];
    u_char       lim[NGX_INT_T_LEN + 1];

    ngx_str_set(&ctx->bind, "activities");

    if (ngx_http_sfn_aws_page(ctx, 100, NGX_HTTP_SFN_AWS_ACTIVITIES,
                              &ctx->bind)
        != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    ngx_str_null(&name);

    if (ctx->cursor.data
        && ngx_http_sfn_aws_cursor_name(ctx, ctx->cursor.data,
                                        ctx->cursor.len, &name)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_reply_error(ctx, "InvalidToken",
                                            "Invalid Token: 'the token is "
                                            "not one of this request'");
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_activity_no_database(ctx);
    }

    *ngx_sprintf(lim, "%i", ctx->limit + 1) = '\0';

    values[0] = (char *) lim;
    values[1] = (char *) name.data;

    return ngx_http_sfn_aws_query(ctx,
               "SELECT arn, name, extract(epoch FROM created_at) "
               "FROM sfn_activities WHERE name > coalesce($2::text, '') "
               "ORDER BY name LIMIT $1::bigint",
               2, values, ngx_http_sfn_activity_listed);
}


/* GetActivityTask */

static ngx_http_sfn_activity_t *
ngx_http_sfn_activity_get(ngx_str_t *arn, ngx_log_t *log)
{
    ngx_queue_t              *q;
    ngx_http_sfn_activity_t  *act;

    if (ngx_http_sfn_activities.next == NULL) {
        ngx_queue_init(&ngx_http_sfn_activities);
        ngx_queue_init(&ngx_http_sfn_polls);
    }

    for (q = ngx_queue_head(&ngx_http_sfn_activities);
         q != ngx_queue_sentinel(&ngx_http_sfn_activities);
         q = ngx_queue_next(q))
    {
        act = ngx_queue_data(q, ngx_http_sfn_activity_t, queue);

        if (act->arn.len == arn->len
            && ngx_strncmp(act->arn.data, arn->data, arn->len) == 0)
        {
            act->refs++;
            return act;
        }
    }

    act = ngx_calloc(sizeof(ngx_http_sfn_activity_t) + arn->len + 1, log);
    if (act == NULL) {
        return NULL;
    }

    ngx_queue_init(&act->polls);
    act->refs = 1;
    act->arn.data = (u_char *) (act + 1);
    act->arn.len = arn->len;
    ngx_memcpy(act->arn.data, arn->data, arn->len);

    ngx_queue_insert_tail(&ngx_http_sfn_activities, &act->queue);

    return act;
}


static void
ngx_http_sfn_activity_put(ngx_http_sfn_activity_t *act)
{
    if (--act->refs) {
        return;
    }

    ngx_queue_remove(&act->queue);
    ngx_free(act);
}


/* the poll leaves the lists; its claim, if any, goes on without it */

static void
ngx_http_sfn_poll_detach(ngx_http_sfn_poll_t *poll)
{
    if (poll->done) {
        return;
    }

    poll->done = 1;

    if (poll->waiting) {
        ngx_queue_remove(&poll->queue);
        poll->waiting = 0;
    }

    ngx_queue_remove(&poll->all);

    if (poll->claim) {
        poll->claim->poll = NULL;
        poll->claim = NULL;
    }

    if (poll->timer.timer_set) {
        ngx_del_timer(&poll->timer);
    }

    ngx_http_sfn_activity_put(poll->act);
}


static void
ngx_http_sfn_poll_cleanup(void *data)
{
    ngx_http_sfn_poll_t *poll = data;

    ngx_http_sfn_poll_detach(poll);
}


static void
ngx_http_sfn_poll_finish(ngx_http_sfn_poll_t *poll, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = poll->ctx->r;
    c = r->connection;

    ngx_http_sfn_poll_detach(poll);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* no task in time: AWS answers without one */

static void
ngx_http_sfn_poll_timeout(ngx_event_t *ev)
{
    ngx_http_sfn_poll_t *poll = ev->data;

    ngx_http_sfn_poll_finish(poll, ngx_http_sfn_aws_send(poll->ctx->r,
                                                         NGX_HTTP_OK,
                                                         cJSON_CreateObject()));
}


/* a graceful stop answers every held poll, each without a task */

static void
ngx_http_sfn_poll_tick_handler(ngx_event_t *ev)
{
    ngx_queue_t          *q;
    ngx_http_sfn_poll_t  *poll;

    if (!ngx_exiting && !ngx_terminate) {
        if (!ngx_queue_empty(&ngx_http_sfn_polls)) {
            ngx_add_timer(ev, NGX_HTTP_SFN_AWS_POLL_TICK);
        }

        return;
    }

    while (!ngx_queue_empty(&ngx_http_sfn_polls)) {
        q = ngx_queue_head(&ngx_http_sfn_polls);
        poll = ngx_queue_data(q, ngx_http_sfn_poll_t, all);

        ngx_http_sfn_poll_timeout(&poll->timer);
    }
}


/*
 * Whether the poll's client is still there, as ngx_http_test_reading()
 * tells it: a task is never written to a connection already closed
 */

static ngx_uint_t
ngx_http_sfn_poll_alive(ngx_http_sfn_poll_t *poll)
{
    int                n;
    char               buf[1];
    ngx_err_t          err;
    ngx_connection_t  *c;

    c = poll->ctx->r->connection;

    if (c->error || c->close || c->read->eof) {
        return 0;
    }

#if (NGX_HAVE_EPOLLRDHUP)

    if ((ngx_event_flags & NGX_USE_EPOLL_EVENT) && ngx_use_epoll_rdhup
        && c->read->pending_eof)
    {
        return 0;
    }

#endif

    n = recv(c->fd, buf, 1, MSG_PEEK);
    err = ngx_socket_errno;

    if (n == 0 || (n == -1 && err != NGX_EAGAIN && err != NGX_EINTR)) {
        return 0;
    }

    return 1;
}


static ngx_int_t
ngx_http_sfn_poll_reply(ngx_http_sfn_poll_t *poll, PGresult *res)
{
    cJSON  *json;

    json = cJSON_CreateObject();

    if (json == NULL
        || cJSON_AddStringToObject(json, "taskToken", PQgetvalue(res, 0, 1))
           == NULL
        || cJSON_AddStringToObject(json, "input", PQgetvalue(res, 0, 2))
           == NULL)
    {
        cJSON_Delete(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, poll->ctx->r->connection->log, 0,
                   "sfn activity \"%V\": a task for \"%V\"",
                   &poll->act->arn, &poll->worker);

    return ngx_http_sfn_aws_send(poll->ctx->r, NGX_HTTP_OK, json);
}


static void
ngx_http_sfn_activity_claimed(void *data, void *res)
{
    ngx_http_sfn_claim_t *claim = data;

    ngx_uint_t                got, found;
    const char               *values[1];
    ngx_http_sfn_poll_t      *poll;
    ngx_http_sfn_activity_t  *act;

    poll = claim->poll;
    act = claim->act;

    if (claim->waiting) {
        act->claiming = 0;
    }

    found = res && PQntuples(res) == 1
            && PQgetvalue(res, 0, 0)[0] == 't';
    got = found && !PQgetisnull(res, 0, 1);

    if (poll) {
        poll->claim = NULL;
    }

    if (got && (poll == NULL || !ngx_http_sfn_poll_alive(poll))) {

        /* taken for a poll that has gone: for the next one */

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "sfn activity \"%V\": a task taken for a poll that "
                      "went away is queued again", &act->arn);

        values[0] = PQgetvalue(res, 0, 1);

        /* with no memory its timeouts end it, as a worker's that died */

        (void) ngx_http_sfn_pg_query_alone("SELECT sfn_activity_requeue($1)",
                                           1, values, NULL, NULL);

        if (poll) {
            ngx_http_sfn_poll_finish(poll, NGX_HTTP_CLIENT_CLOSED_REQUEST);
            poll = NULL;
        }

    } else if (got) {
        ngx_http_sfn_poll_finish(poll, ngx_http_sfn_poll_reply(poll, res));
        poll = NULL;

    } else if (poll && res == NULL && !poll->waiting) {
        ngx_http_sfn_poll_finish(poll,
            ngx_http_sfn_aws_reply_error(poll->ctx, "ServiceUnavailable",
                                         "the database statement failed"));
        poll = NULL;

    } else if (poll && res && !found) {
        ngx_http_sfn_poll_finish(poll,
            ngx_http_sfn_aws_reply_error(poll->ctx, "ActivityDoesNotExist",
                                         "Activity Does Not Exist: '%V'",
                                         &act->arn));
        poll = NULL;
    }

    if (poll && !poll->waiting) {
        /* nothing yet: it waits, unless a task was queued meanwhile */

        if (poll->gen == act->notified
            || ngx_http_sfn_activity_claim(poll, 0) != NGX_OK)
        {
            ngx_queue_insert_tail(&act->polls, &poll->queue);
            poll->waiting = 1;
        }
    }

    if (claim->waiting && (got || act->again)) {
        act->again = 0;
        ngx_http_sfn_activity_wake(act);
    }

    ngx_http_sfn_activity_put(act);
    ngx_free(claim);
}


static ngx_int_t
ngx_http_sfn_activity_claim(ngx_http_sfn_poll_t *poll, ngx_uint_t waiting)
{
    const char            *values[2];
    ngx_http_sfn_claim_t  *claim;

    claim = ngx_alloc(sizeof(ngx_http_sfn_claim_t),
                      poll->ctx->r->connection->log);
    if (claim == NULL) {
        return NGX_ERROR;
    }

    claim->poll = poll;
    claim->act = poll->act;
    claim->waiting = waiting;

    values[0] = (char *) poll->act->arn.data;
    values[1] = (char *) poll->worker.data;

    if (ngx_http_sfn_pg_query_alone(
            "SELECT known, token, input "
            "FROM sfn_activity_claim($1, nullif($2, ''))",
            2, values, ngx_http_sfn_activity_claimed, claim)
        != NGX_OK)
    {
        ngx_free(claim);
        return NGX_ERROR;
    }

    poll->act->refs++;
    poll->claim = claim;
    poll->gen = poll->act->notified;

    if (waiting) {
        poll->act->claiming = 1;
    }

    return NGX_OK;
}


/* a task may be queued: one claim, for the oldest poll waiting */

static void
ngx_http_sfn_activity_wake(ngx_http_sfn_activity_t *act)
{
    ngx_queue_t          *q;
    ngx_http_sfn_poll_t  *poll;

    if (act->claiming) {
        act->again = 1;
        return;
    }

    for (q = ngx_queue_head(&act->polls);
         q != ngx_queue_sentinel(&act->polls);
         q = ngx_queue_next(q))
    {
        poll = ngx_queue_data(q, ngx_http_sfn_poll_t, queue);

        if (poll->claim == NULL) {
            /* no memory, or the queue full: the next NOTIFY tries again */
            (void) ngx_http_sfn_activity_claim(poll, 1);
            return;
        }
    }
}


/* NOTIFY sfn_activity: its payload the activity, or NULL on connect */

void
ngx_http_sfn_activity_notify(const char *payload)
{
    ngx_queue_t              *q, *next;
    ngx_http_sfn_activity_t  *act;

    if (ngx_http_sfn_activities.next == NULL) {
        return;
    }

    for (q = ngx_queue_head(&ngx_http_sfn_activities);
         q != ngx_queue_sentinel(&ngx_http_sfn_activities);
         q = next)
    {
        next = ngx_queue_next(q);
        act = ngx_queue_data(q, ngx_http_sfn_activity_t, queue);

        if (payload && ngx_strcmp(act->arn.data, payload) != 0) {
            continue;
        }

        act->notified++;

        /* held so that a wake that answers every poll does not free it */

        act->refs++;
        ngx_http_sfn_activity_wake(act);
        ngx_http_sfn_activity_put(act);
    }
}


ngx_int_t
ngx_http_sfn_aws_get_activity_task(ngx_http_sfn_aws_ctx_t *ctx)
{
    ngx_int_t             rc;
    ngx_str_t             arn, worker;
    ngx_pool_cleanup_t   *cln;
    ngx_http_request_t   *r;
    ngx_http_sfn_poll_t  *poll;

    r = ctx->r;

    rc = ngx_http_sfn_activity_field(ctx, &arn);

    if (rc != NGX_OK
        || ngx_http_sfn_aws_field(ctx, "workerName", 0, &worker)
           == NGX_ERROR
        || ngx_http_sfn_aws_length(ctx, "workerName", &worker,
                                   NGX_HTTP_SFN_NAME_LEN)
           != NGX_OK)
    {
        return ngx_http_sfn_aws_error(ctx);
    }

    if (ctx->smcf->database.len == 0) {
        return ngx_http_sfn_activity_no_database(ctx);
    }

    poll = ngx_pcalloc(r->pool, sizeof(ngx_http_sfn_poll_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (poll == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    poll->ctx = ctx;
    poll->worker.len = worker.len;
    poll->worker.data = worker.data ? worker.data : (u_char *) "";

    poll->act = ngx_http_sfn_activity_get(&arn, r->connection->log);
    if (poll->act == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_queue_insert_tail(&ngx_http_sfn_polls, &poll->all);

    cln->handler = ngx_http_sfn_poll_cleanup;
    cln->data = poll;

    if (ngx_http_sfn_activity_claim(poll, 0) != NGX_OK) {
        ngx_http_sfn_poll_detach(poll);

        if (ngx_http_sfn_retry_after(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_sfn_aws_reply_error(ctx, "ServiceUnavailable",
                                            "Too many statements waiting "
                                            "for the database: retry later");
    }

    poll->timer.handler = ngx_http_sfn_poll_timeout;
    poll->timer.data = poll;
    poll->timer.log = r->connection->log;

    ngx_add_timer(&poll->timer, NGX_HTTP_SFN_AWS_POLL_TIME);

    if (!ngx_http_sfn_poll_tick.timer_set) {
        ngx_http_sfn_poll_tick.handler = ngx_http_sfn_poll_tick_handler;
        ngx_http_sfn_poll_tick.log = ngx_cycle->log;
        ngx_http_sfn_poll_tick.cancelable = 1;
        ngx_add_timer(&ngx_http_sfn_poll_tick, NGX_HTTP_SFN_AWS_POLL_TICK);
    }

    /* a client that goes is noticed while the poll waits */

    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


/* the tasks of activities, on the executions' side */

static void
ngx_http_sfn_activity_enqueued(void *data, void *res)
{
    ngx_http_sfn_enqueue_t *eq = data;

    const char          *values[1];
    ngx_http_sfn_msg_t   msg;
    ngx_http_sfn_run_t  *run;

    if (res && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't') {

        /* committed: every poller of every node is told */

        values[0] = (char *) eq->activity.data;

        (void) ngx_http_sfn_pg_query_alone(
                   "SELECT pg_notify('sfn_activity', $1)", 1, values,
                   NULL, NULL);

        ngx_free(eq);
        return;
    }

    run = ngx_http_sfn_run_find(&eq->arn);

    if (run && !run->finished) {
        ngx_memzero(&msg, sizeof(ngx_http_sfn_msg_t));

        msg.kind = NGX_HTTP_SFN_MSG_REFUSED;
        msg.task = eq->task;
        msg.arn = run->arn;

        if (res) {
            ngx_str_set(&msg.a, "States.Runtime");
            msg.b.data = ngx_pnalloc(run->pool, eq->activity.len
                                     + sizeof("Activity does not exist: ''"));

            if (msg.b.data) {
                msg.b.len = ngx_sprintf(msg.b.data,
                                        "Activity does not exist: '%V'%Z",
                                        &eq->activity)
                            - msg.b.data - 1;
            }

        } else {
            ngx_str_set(&msg.a, "States.Runtime");
            ngx_str_set(&msg.b, "The activity task could not be queued");
        }

        ngx_http_sfn_msg_apply(run, &msg);
    }

    ngx_free(eq);
}


int
ngx_http_sfn_activity_schedule(ngx_http_sfn_task_ctx_t *ctx)
{
    u_char                  *p;
    size_t                   len;
    const char              *values[5];
    ngx_http_sfn_run_t      *run;
    ngx_http_sfn_enqueue_t  *eq;
    u_char                   id[NGX_INT64_LEN + 1];

    run = ctx->run;

    ctx->waiting = 1;

    if (run->smcf->database.len == 0 || !run->durable) {
        /* only a Standard execution in PostgreSQL has a queue */
        ngx_queue_remove(&ctx->queue);
        ngx_http_sfn_task_forget(ctx);
        cJSON_Delete((cJSON *) ctx->call.input);
        ctx->call.input = NULL;
        return SFN_ERROR;
    }

    ctx->activity = 1;

    len = ngx_strlen(ctx->call.resource);

    eq = ngx_alloc(sizeof(ngx_http_sfn_enqueue_t) + run->arn.len + len + 2,
                   run->log);

    values[4] = sfn_json_print((cJSON *) ctx->call.input);

    cJSON_Delete((cJSON *) ctx->call.input);
    ctx->call.input = NULL;

    if (eq == NULL || values[4] == NULL) {
        free((void *) values[4]);
        ngx_free(eq);
        ngx_queue_remove(&ctx->queue);
        ngx_http_sfn_task_forget(ctx);
        return SFN_ERROR;
    }

    p = (u_char *) (eq + 1);

    eq->task = ctx->id;
    eq->arn.data = p;
    eq->arn.len = run->arn.len;
    p = ngx_cpymem(p, run->arn.data, run->arn.len);
    *p++ = '\0';
    eq->activity.data = p;
    eq->activity.len = len;
    p = ngx_cpymem(p, ctx->call.resource, len);
    *p = '\0';

    ngx_sprintf(id, "%uL%Z", ctx->id);

    values[0] = ctx->call.token;
    values[1] = ctx->call.resource;
    values[2] = (const char *) run->arn.data;
    values[3] = (const char *) id;

    /* with the step that scheduled it, whose commit calls the handler */

    if (ngx_http_sfn_pg_record("SELECT sfn_activity_enqueue($1, $2, $3, "
                               "$4, $5)",
                               5, values, ngx_http_sfn_activity_enqueued, eq)
        != NGX_OK)
    {
        free((void *) values[4]);
        ngx_free(eq);
        ngx_queue_remove(&ctx->queue);
        ngx_http_sfn_task_forget(ctx);
        return SFN_ERROR;
    }

    free((void *) values[4]);

    return SFN_OK;
}


/* the task ended, whichever way: its row goes */

void
ngx_http_sfn_activity_forget(ngx_http_sfn_task_ctx_t *ctx)
{
    const char  *values[1];

    values[0] = ctx->call.token;

    /* no memory: a claim drops it, its token being closed */

    (void) ngx_http_sfn_pg_record("DELETE FROM sfn_activity_tasks "
                                  "WHERE token = $1", 1, values, NULL, NULL);
}
