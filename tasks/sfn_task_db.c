
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:db:put, sfn:db:update, sfn:db:get - the jobs table (sfn_jobs), our
 * way and DynamoDB's (putItem, updateItem, getItem on the one table).
 *
 *   ours      {"jobId", "status", "attributes": {...}, "bucket", "key"}
 *   DynamoDB  {"TableName", "Item": {"JobId": {"S": ..}, ...}}
 *             {"TableName", "Key": {"JobId": {"S": ..}}, "UpdateExpression",
 *              "ExpressionAttributeNames", "ExpressionAttributeValues",
 *              "ConditionExpression", "ReturnValues"}
 *
 * A DynamoDB item maps onto a row: JobId is job_id, JobStatus the status
 * column ("" when the item has none), every other attribute is kept in
 * attributes as plain JSON, and SourceBucket/SourceKey are mirrored into
 * bucket/key for SQL.  Updates are evaluated here against the row locked
 * with SELECT ... FOR UPDATE, so they are atomic as DynamoDB's are.
 *
 * The connections are blocking, on the threads of a pool, and shared by
 * the threads of a process (a worker): at most sfn_database_pool of them,
 * idle ones kept.  One that failed, or that a task left inside a
 * transaction, is closed rather than handed out again; an idle one that
 * has something to read (the goodbye of a server that restarted, an EOF)
 * is closed when it is taken.
 */


#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "sfn_task_int.h"


#define SFN_DB_COLS                                                          \
    "job_id, status, attributes::text, execution_arn, state_machine, "      \
    "bucket, key, "                                                          \
    "to_char(created_at AT TIME ZONE 'UTC', "                                \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "                                 \
    "to_char(updated_at AT TIME ZONE 'UTC', "                                \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define SFN_DB_VALIDATION  "DynamoDB.ValidationException"
#define SFN_DB_MAX_DEPTH   32

#define SFN_DB_POOL_MAX    256
#define SFN_DB_POOL_WAIT   30      /* seconds, the statement timeout */


enum {
    SFN_DB_COL_JOB_ID = 0,
    SFN_DB_COL_STATUS,
    SFN_DB_COL_ATTRIBUTES,
    SFN_DB_COL_EXECUTION,
    SFN_DB_COL_STATE_MACHINE,
    SFN_DB_COL_BUCKET,
    SFN_DB_COL_KEY,
    SFN_DB_COL_CREATED,
    SFN_DB_COL_UPDATED
};


typedef struct {
    PGconn                  *conn;
    int                      busy;
} sfn_db_slot_t;


typedef struct {
    pthread_mutex_t          mutex;
    pthread_cond_t           cond;
    sfn_db_slot_t            slots[SFN_DB_POOL_MAX];
    int                      nslots;
    int                      connecting;
    int                      max;
    int                      closing;
    char                    *conninfo;  /* of the pooled ones */
    volatile unsigned long  *gauge;     /* open: slots and connecting */
} sfn_db_pool_t;


typedef struct {
    sfn_task_call_t      *call;
    const char           *start;
    const char           *p;
    const cJSON          *names;     /* ExpressionAttributeNames */
    const cJSON          *values;    /* ExpressionAttributeValues, plain */
    const cJSON          *old;       /* the item before the update */
    cJSON                *item;      /* the item being built */
    cJSON                *touched;   /* names SET or REMOVEd */
    int                   lenient;   /* a missing attribute is no error */
    int                   missing;
    char                  name[256];
} sfn_db_expr_t;


static int sfn_task_db_put(sfn_task_call_t *call);
static int sfn_task_db_update(sfn_task_call_t *call);
static int sfn_task_db_get(sfn_task_call_t *call);
static cJSON *sfn_db_expr_operand(sfn_db_expr_t *e);


static sfn_db_pool_t  sfn_db_pool = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
    { { NULL, 0 } }, 0, 0, 4, 0, NULL, NULL
};


const sfn_task_def_t  sfn_task_db_defs[] = {
    { "sfn:db:put", sfn_task_db_put },
    { "sfn:db:update", sfn_task_db_update },
    { "sfn:db:get", sfn_task_db_get },
    { NULL, NULL }
};


/* connections and statements */


/* under the mutex */

static void
sfn_db_pool_gauge(void)
{
    if (sfn_db_pool.gauge) {
        *sfn_db_pool.gauge = (unsigned long) (sfn_db_pool.nslots
                                              + sfn_db_pool.connecting);
    }
}


static void
sfn_db_pool_drop(int i)
{
    PQfinish(sfn_db_pool.slots[i].conn);

    sfn_db_pool.slots[i] = sfn_db_pool.slots[--sfn_db_pool.nslots];

    sfn_db_pool_gauge();
}


void
sfn_task_db_pool_init(int max, volatile unsigned long *gauge)
{
    pthread_mutex_lock(&sfn_db_pool.mutex);

    if (max > 0) {
        sfn_db_pool.max = (max < SFN_DB_POOL_MAX) ? max : SFN_DB_POOL_MAX;
    }

    sfn_db_pool.gauge = gauge;
    sfn_db_pool.closing = 0;
    sfn_db_pool_gauge();

    pthread_mutex_unlock(&sfn_db_pool.mutex);
}


void
sfn_task_db_pool_close(void)
{
    int  i;

    pthread_mutex_lock(&sfn_db_pool.mutex);

    sfn_db_pool.closing = 1;

    for (i = sfn_db_pool.nslots - 1; i >= 0; i--) {
        if (!sfn_db_pool.slots[i].busy) {
            sfn_db_pool_drop(i);
        }
    }

    pthread_cond_broadcast(&sfn_db_pool.cond);
    pthread_mutex_unlock(&sfn_db_pool.mutex);
}


/*
 * An idle connection has nothing to read: whatever is there is the
 * server's farewell or an EOF (a restart, a terminated backend).
 */

static int
sfn_db_idle_alive(PGconn *conn)
{
    struct pollfd  pfd;

    if (PQstatus(conn) != CONNECTION_OK
        || PQtransactionStatus(conn) != PQTRANS_IDLE)
    {
        return 0;
    }

    pfd.fd = PQsocket(conn);
    pfd.events = POLLIN;
    pfd.revents = 0;

    return pfd.fd >= 0 && poll(&pfd, 1, 0) == 0;
}


static void
sfn_db_notice(void *arg, const char *message)
{
    /* a pooled connection's notices would go to a worker's stderr */
}


static PGconn *
sfn_db_open(sfn_task_call_t *call, const char *conninfo)
{
    PGconn      *conn;
    const char  *keys[5], *vals[5];

    /*
     * a dead server must not hold a task thread for minutes: defaults
     * for the connect and statement timeouts (and a name in
     * pg_stat_activity), which the conninfo (given
     * last, as an expanded dbname) overrides
     */

    keys[0] = "connect_timeout";
    vals[0] = "10";
    keys[1] = "options";
    vals[1] = "-c statement_timeout=30000";
    keys[2] = "application_name";
    vals[2] = "ngx_sfn tasks";
    keys[3] = "dbname";
    vals[3] = conninfo;
    keys[4] = NULL;
    vals[4] = NULL;

    conn = PQconnectdbParams(keys, vals, 1);

    if (PQstatus(conn) != CONNECTION_OK) {
        /* PQerrorMessage points into conn: copy it before PQfinish */
        sfn_task_fail(call, "States.TaskFailed",
                      "cannot connect to the database: %s",
                      PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }

    PQsetNoticeProcessor(conn, sfn_db_notice, NULL);

    return conn;
}


/* an idle connection of the pool, or a new one if there is room */

static PGconn *
sfn_db_connect(sfn_task_call_t *call)
{
    int               i, waited;
    PGconn           *conn;
    const char       *conninfo;
    struct timespec   ts;

    if (call->env == NULL || call->env->db_conninfo == NULL
        || call->env->db_conninfo[0] == '\0')
    {
        sfn_task_fail(call, "States.TaskFailed",
                      "no database is configured for the jobs table "
                      "(sfn_database, or SFN_DB_CONNINFO for sfn-task)");
        return NULL;
    }

    conninfo = call->env->db_conninfo;
    waited = 0;

    pthread_mutex_lock(&sfn_db_pool.mutex);

    if (sfn_db_pool.conninfo == NULL) {
        sfn_db_pool.conninfo = strdup(conninfo);
    }

    /* a process has one database: another one is served, not pooled */

    if (sfn_db_pool.conninfo == NULL
        || strcmp(sfn_db_pool.conninfo, conninfo) != 0)
    {
        pthread_mutex_unlock(&sfn_db_pool.mutex);
        return sfn_db_open(call, conninfo);
    }

    for ( ;; ) {
        for (i = sfn_db_pool.nslots - 1; i >= 0; i--) {
            if (sfn_db_pool.slots[i].busy) {
                continue;
            }

            if (!sfn_db_idle_alive(sfn_db_pool.slots[i].conn)) {
                sfn_db_pool_drop(i);
                continue;
            }

            sfn_db_pool.slots[i].busy = 1;
            conn = sfn_db_pool.slots[i].conn;

            pthread_mutex_unlock(&sfn_db_pool.mutex);

            return conn;
        }

        if (sfn_db_pool.nslots + sfn_db_pool.connecting < sfn_db_pool.max) {
            break;
        }

        if ((call->env->cancel && *call->env->cancel)
            || waited >= SFN_DB_POOL_WAIT * 10)
        {
            pthread_mutex_unlock(&sfn_db_pool.mutex);

            sfn_task_fail(call, "States.TaskFailed",
                          "no database connection was free for %d s "
                          "(sfn_database_pool %d)",
                          waited / 10, sfn_db_pool.max);
            return NULL;
        }

        /* in slices of 100 ms, to see a cancel */

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;

        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }

        (void) pthread_cond_timedwait(&sfn_db_pool.cond, &sfn_db_pool.mutex,
                                      &ts);
        waited++;
    }

    /* connected outside the mutex: the room is held meanwhile */

    sfn_db_pool.connecting++;
    sfn_db_pool_gauge();

    pthread_mutex_unlock(&sfn_db_pool.mutex);

    conn = sfn_db_open(call, conninfo);

    pthread_mutex_lock(&sfn_db_pool.mutex);

    sfn_db_pool.connecting--;

    if (conn) {
        sfn_db_pool.slots[sfn_db_pool.nslots].conn = conn;
        sfn_db_pool.slots[sfn_db_pool.nslots].busy = 1;
        sfn_db_pool.nslots++;

    } else {
        pthread_cond_signal(&sfn_db_pool.cond);
    }

    sfn_db_pool_gauge();

    pthread_mutex_unlock(&sfn_db_pool.mutex);

    return conn;
}


/*
 * A connection back to the pool; closed if it failed or is left inside a
 * transaction (closing rolls that back), or if it is not the pool's.
 */

static void
sfn_db_release(PGconn *conn)
{
    int  i, reuse;

    if (conn == NULL) {
        return;
    }

    reuse = PQstatus(conn) == CONNECTION_OK
            && PQtransactionStatus(conn) == PQTRANS_IDLE;

    pthread_mutex_lock(&sfn_db_pool.mutex);

    for (i = 0; i < sfn_db_pool.nslots; i++) {
        if (sfn_db_pool.slots[i].conn == conn) {
            break;
        }
    }

    if (i == sfn_db_pool.nslots) {
        PQfinish(conn);

    } else if (reuse && !sfn_db_pool.closing) {
        sfn_db_pool.slots[i].busy = 0;

    } else {
        sfn_db_pool_drop(i);
    }

    pthread_cond_signal(&sfn_db_pool.cond);
    pthread_mutex_unlock(&sfn_db_pool.mutex);
}


static PGresult *
sfn_db_exec(sfn_task_call_t *call, PGconn *conn, const char *sql, int n,
    const char *const *params)
{
    PGresult        *res;
    ExecStatusType   st;

    res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        return res;
    }

    sfn_task_fail(call, "States.TaskFailed", "jobs table: %s",
                  res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    PQclear(res);

    return NULL;
}


static int
sfn_db_command(sfn_task_call_t *call, PGconn *conn, const char *sql)
{
    PGresult  *res;

    res = sfn_db_exec(call, conn, sql, 0, NULL);
    if (res == NULL) {
        return SFN_TASK_FAILED;
    }

    PQclear(res);

    return SFN_TASK_OK;
}


static const char *
sfn_db_value(PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}


/* "arn:aws:states:r:a:execution:SM:name" -> "SM" into buf, or NULL */

static const char *
sfn_db_state_machine(const char *arn, char *buf, size_t size)
{
    size_t       n;
    const char  *p, *q;

    if (arn == NULL) {
        return NULL;
    }

    p = strstr(arn, ":execution:");
    n = 11;

    if (p == NULL) {
        p = strstr(arn, ":express:");
        n = 9;
    }

    if (p == NULL) {
        return NULL;
    }

    p += n;
    q = strchr(p, ':');

    if (q == NULL || q == p || (size_t) (q - p) >= size) {
        return NULL;
    }

    memcpy(buf, p, q - p);
    buf[q - p] = '\0';

    return buf;
}


/* DynamoDB's typed values */


static cJSON *
sfn_db_unmarshal(sfn_task_call_t *call, const cJSON *v, int depth)
{
    char         *end;
    cJSON        *r, *c;
    double        d;
    const char   *type;
    const cJSON  *val, *it;

    if (depth > SFN_DB_MAX_DEPTH) {
        sfn_task_fail(call, SFN_DB_VALIDATION, "the item nests too deeply");
        return NULL;
    }

    if (!cJSON_IsObject(v) || v->child == NULL || v->child->next != NULL) {
        sfn_task_fail(call, SFN_DB_VALIDATION,
                      "Supplied AttributeValue is empty or has more than "
                      "one data type: %s", v && v->string ? v->string : "");
        return NULL;
    }

    val = v->child;
    type = val->string;

    if (strcmp(type, "S") == 0 || strcmp(type, "B") == 0) {
        if (cJSON_IsString(val)) {
            return cJSON_CreateString(val->valuestring);
        }

    } else if (strcmp(type, "N") == 0) {
        if (cJSON_IsString(val) && val->valuestring[0]) {
            d = strtod(val->valuestring, &end);

            if (*end == '\0' && isfinite(d)) {
                return cJSON_CreateNumber(d);
            }
        }

        sfn_task_fail(call, SFN_DB_VALIDATION,
                      "the N value is not a number");
        return NULL;

    } else if (strcmp(type, "BOOL") == 0) {
        if (cJSON_IsBool(val)) {
            return cJSON_CreateBool(cJSON_IsTrue(val));
        }

    } else if (strcmp(type, "NULL") == 0) {
        if (cJSON_IsTrue(val)) {
            return cJSON_CreateNull();
        }

    } else if (strcmp(type, "M") == 0) {
        if (cJSON_IsObject(val)) {
            r = cJSON_CreateObject();

            cJSON_ArrayForEach(it, val) {
                c = sfn_db_unmarshal(call, it, depth + 1);
                if (c == NULL) {
                    cJSON_Delete(r);
                    return NULL;
                }

                cJSON_AddItemToObject(r, it->string, c);
            }

            return r;
        }

    } else if (strcmp(type, "L") == 0 || strcmp(type, "SS") == 0
               || strcmp(type, "NS") == 0 || strcmp(type, "BS") == 0)
    {
        /* sets become lists: a plain JSON document has no sets */

        if (cJSON_IsArray(val)) {
            r = cJSON_CreateArray();

            cJSON_ArrayForEach(it, val) {
                if (type[0] == 'L') {
                    c = sfn_db_unmarshal(call, it, depth + 1);

                } else if (!cJSON_IsString(it)) {
                    c = NULL;
                    sfn_task_fail(call, SFN_DB_VALIDATION,
                                  "a %s member is not a string", type);

                } else if (type[0] == 'N') {
                    d = strtod(it->valuestring, &end);
                    c = (*end == '\0' && it->valuestring[0] && isfinite(d))
                        ? cJSON_CreateNumber(d) : NULL;

                    if (c == NULL) {
                        sfn_task_fail(call, SFN_DB_VALIDATION,
                                      "an NS member is not a number");
                    }

                } else {
                    c = cJSON_CreateString(it->valuestring);
                }

                if (c == NULL) {
                    cJSON_Delete(r);
                    return NULL;
                }

                cJSON_AddItemToArray(r, c);
            }

            return r;
        }

    } else {
        sfn_task_fail(call, SFN_DB_VALIDATION,
                      "unknown AttributeValue type \"%s\"", type);
        return NULL;
    }

    sfn_task_fail(call, SFN_DB_VALIDATION,
                  "invalid %s AttributeValue", type);
    return NULL;
}


/* {"A": {"S": ..}, ...} -> {"A": .., ...} */

static cJSON *
sfn_db_unmarshal_map(sfn_task_call_t *call, const cJSON *map,
    const char *what)
{
    cJSON        *r, *c;
    const cJSON  *it;

    if (map == NULL) {
        return cJSON_CreateObject();
    }

    if (!cJSON_IsObject(map)) {
        sfn_task_fail(call, SFN_DB_VALIDATION, "%s is not a map", what);
        return NULL;
    }

    r = cJSON_CreateObject();

    cJSON_ArrayForEach(it, map) {
        c = sfn_db_unmarshal(call, it, 0);
        if (c == NULL) {
            cJSON_Delete(r);
            return NULL;
        }

        cJSON_AddItemToObject(r, it->string, c);
    }

    return r;
}


static void
sfn_db_number(double d, char *buf, size_t size)
{
    if (d == floor(d) && fabs(d) < 1e15) {
        snprintf(buf, size, "%.0f", d);
        return;
    }

    snprintf(buf, size, "%.15g", d);

    if (strtod(buf, NULL) != d) {
        snprintf(buf, size, "%.17g", d);
    }
}


static cJSON *
sfn_db_marshal(const cJSON *v)
{
    char          num[64];
    cJSON        *r, *c;
    const cJSON  *it;

    r = cJSON_CreateObject();

    if (cJSON_IsString(v)) {
        cJSON_AddStringToObject(r, "S", v->valuestring);

    } else if (cJSON_IsNumber(v)) {
        sfn_db_number(v->valuedouble, num, sizeof(num));
        cJSON_AddStringToObject(r, "N", num);

    } else if (cJSON_IsBool(v)) {
        cJSON_AddBoolToObject(r, "BOOL", cJSON_IsTrue(v));

    } else if (cJSON_IsArray(v)) {
        c = cJSON_AddArrayToObject(r, "L");

        cJSON_ArrayForEach(it, v) {
            cJSON_AddItemToArray(c, sfn_db_marshal(it));
        }

    } else if (cJSON_IsObject(v)) {
        c = cJSON_AddObjectToObject(r, "M");

        cJSON_ArrayForEach(it, v) {
            cJSON_AddItemToObject(c, it->string, sfn_db_marshal(it));
        }

    } else {
        cJSON_AddBoolToObject(r, "NULL", 1);
    }

    return r;
}


static cJSON *
sfn_db_marshal_map(const cJSON *item)
{
    cJSON        *r;
    const cJSON  *it;

    r = cJSON_CreateObject();

    cJSON_ArrayForEach(it, item) {
        cJSON_AddItemToObject(r, it->string, sfn_db_marshal(it));
    }

    return r;
}


/* rows and items */


/* the row (first of res) as a DynamoDB item in plain JSON */

static cJSON *
sfn_db_row_item(PGresult *res)
{
    cJSON       *item, *attrs, *it, *next;
    const char  *s;

    item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "JobId", PQgetvalue(res, 0, 0));

    s = sfn_db_value(res, SFN_DB_COL_STATUS);
    if (s && s[0]) {
        cJSON_AddStringToObject(item, "JobStatus", s);
    }

    s = sfn_db_value(res, SFN_DB_COL_ATTRIBUTES);
    attrs = s ? cJSON_Parse(s) : NULL;

    if (cJSON_IsObject(attrs)) {
        for (it = attrs->child; it; it = next) {
            next = it->next;

            if (strcmp(it->string, "JobId") == 0
                || strcmp(it->string, "JobStatus") == 0)
            {
                continue;
            }

            cJSON_DetachItemViaPointer(attrs, it);
            cJSON_AddItemToObject(item, it->string, it);
        }
    }

    cJSON_Delete(attrs);

    return item;
}


/* the row (first of res) in our shape */

static cJSON *
sfn_db_row_ours(PGresult *res)
{
    int           i;
    cJSON        *r, *attrs;
    const char   *s;

    static const struct {
        int          col;
        const char  *name;
    } cols[] = {
        { SFN_DB_COL_JOB_ID, "jobId" },
        { SFN_DB_COL_STATUS, "status" },
        { SFN_DB_COL_EXECUTION, "executionArn" },
        { SFN_DB_COL_STATE_MACHINE, "stateMachine" },
        { SFN_DB_COL_BUCKET, "bucket" },
        { SFN_DB_COL_KEY, "key" },
        { SFN_DB_COL_CREATED, "createdAt" },
        { SFN_DB_COL_UPDATED, "updatedAt" },
        { -1, NULL }
    };

    r = cJSON_CreateObject();

    for (i = 0; cols[i].name; i++) {
        s = sfn_db_value(res, cols[i].col);

        if (s) {
            cJSON_AddStringToObject(r, cols[i].name, s);
        }
    }

    s = sfn_db_value(res, SFN_DB_COL_ATTRIBUTES);
    attrs = s ? cJSON_Parse(s) : NULL;

    cJSON_AddItemToObject(r, "attributes",
                          attrs ? attrs : cJSON_CreateObject());

    return r;
}


/* writes a DynamoDB item (plain JSON) over the locked row job_id */

static int
sfn_db_store_item(sfn_task_call_t *call, PGconn *conn, const char *job_id,
    const cJSON *item, int put)
{
    int           rc;
    char         *attrs_text;
    char          sm[256];
    cJSON        *attrs;
    PGresult     *res;
    const char   *params[7], *status, *exec;
    const cJSON  *st;

    st = cJSON_GetObjectItemCaseSensitive(item, "JobStatus");

    if (st && !cJSON_IsString(st)) {
        return sfn_task_fail(call, SFN_DB_VALIDATION,
                             "JobStatus must be a string (S)");
    }

    status = st ? st->valuestring : "";

    attrs = cJSON_Duplicate(item, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, "JobId");
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, "JobStatus");
    attrs_text = cJSON_PrintUnformatted(attrs);
    cJSON_Delete(attrs);

    if (attrs_text == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    exec = put && call->env ? call->env->execution : NULL;

    params[0] = job_id;
    params[1] = status;
    params[2] = attrs_text;
    params[3] = sfn_task_string(item, "SourceBucket");
    params[4] = sfn_task_string(item, "SourceKey");
    params[5] = exec;
    params[6] = sfn_db_state_machine(exec, sm, sizeof(sm));

    res = sfn_db_exec(call, conn,
                      "UPDATE sfn_jobs SET status = $2, "
                      "attributes = $3::jsonb, bucket = $4, key = $5, "
                      "execution_arn = COALESCE($6, execution_arn), "
                      "state_machine = COALESCE($7, state_machine), "
                      "updated_at = now() WHERE job_id = $1",
                      7, params);

    free(attrs_text);

    rc = res ? SFN_TASK_OK : SFN_TASK_FAILED;
    PQclear(res);

    return rc;
}


/*
 * Begins a transaction holding the row job_id, created (with status "")
 * when missing; *old receives the item before (NULL if it was created).
 */

static int
sfn_db_lock_item(sfn_task_call_t *call, PGconn *conn, const char *job_id,
    cJSON **old)
{
    int          created;
    char         sm[256];
    PGresult    *res;
    const char  *params[3], *exec;

    *old = NULL;

    if (sfn_db_command(call, conn, "BEGIN") != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    exec = call->env ? call->env->execution : NULL;

    params[0] = job_id;
    params[1] = exec;
    params[2] = sfn_db_state_machine(exec, sm, sizeof(sm));

    res = sfn_db_exec(call, conn,
                      "INSERT INTO sfn_jobs (job_id, status, execution_arn, "
                      "state_machine) VALUES ($1, '', $2, $3) "
                      "ON CONFLICT (job_id) DO NOTHING RETURNING job_id",
                      3, params);
    if (res == NULL) {
        return SFN_TASK_FAILED;
    }

    created = PQntuples(res) == 1;
    PQclear(res);

    res = sfn_db_exec(call, conn,
                      "SELECT " SFN_DB_COLS " FROM sfn_jobs "
                      "WHERE job_id = $1 FOR UPDATE",
                      1, params);
    if (res == NULL) {
        return SFN_TASK_FAILED;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);
        return sfn_task_fail(call, "States.TaskFailed",
                             "jobs table: the row \"%s\" vanished", job_id);
    }

    if (!created) {
        *old = sfn_db_row_item(res);
    }

    PQclear(res);

    return SFN_TASK_OK;
}


/* the JobId of a DynamoDB Key or Item */

static const char *
sfn_db_job_id(sfn_task_call_t *call, const cJSON *map, const char *what)
{
    const char   *s;
    const cJSON  *id;

    id = cJSON_GetObjectItemCaseSensitive(map, "JobId");
    s = cJSON_IsObject(id) ? sfn_task_string(id, "S") : NULL;

    if (s == NULL || s[0] == '\0') {
        sfn_task_fail(call, SFN_DB_VALIDATION,
                      "One of the required keys was not given a value: "
                      "%s.JobId must be a non-empty S", what);
        return NULL;
    }

    return s;
}


static int
sfn_db_key_only(sfn_task_call_t *call, const cJSON *key)
{
    if (!cJSON_IsObject(key) || cJSON_GetArraySize(key) != 1) {
        return sfn_task_fail(call, SFN_DB_VALIDATION,
                             "The provided key element does not match the "
                             "schema: the key is {\"JobId\": {\"S\": ...}}");
    }

    return SFN_TASK_OK;
}


/* expressions: update (SET, REMOVE) and condition (a small subset) */


static void
sfn_db_expr_ws(sfn_db_expr_t *e)
{
    while (isspace((unsigned char) *e->p)) {
        e->p++;
    }
}


static int
sfn_db_expr_keyword(sfn_db_expr_t *e, const char *word)
{
    size_t  n;

    sfn_db_expr_ws(e);
    n = strlen(word);

    if (strncasecmp(e->p, word, n) == 0
        && !isalnum((unsigned char) e->p[n]) && e->p[n] != '_')
    {
        e->p += n;
        return 1;
    }

    return 0;
}


static int
sfn_db_expr_char(sfn_db_expr_t *e, char c)
{
    sfn_db_expr_ws(e);

    if (*e->p == c) {
        e->p++;
        return 1;
    }

    return 0;
}


static int
sfn_db_expr_error(sfn_db_expr_t *e, const char *what)
{
    return sfn_task_fail(e->call, SFN_DB_VALIDATION,
                         "Invalid expression: %s at offset %d of \"%s\"",
                         what, (int) (e->p - e->start), e->start);
}


/*
 * An attribute name: bare or #placeholder; top-level attributes only.  A
 * bare name is copied to e->name, valid until the next call.
 */

static const char *
sfn_db_expr_path(sfn_db_expr_t *e)
{
    char         ph[256];
    size_t       n;
    const char  *s, *name;

    sfn_db_expr_ws(e);
    s = e->p;

    if (*s == '#') {
        s++;
    }

    for (n = 0; isalnum((unsigned char) s[n]) || s[n] == '_'; n++) {
        /* void */
    }

    if (n == 0 || (*e->p != '#' && isdigit((unsigned char) s[0]))) {
        sfn_db_expr_error(e, "an attribute name is expected");
        return NULL;
    }

    if (n + 1 >= sizeof(ph)) {
        sfn_db_expr_error(e, "the name is too long");
        return NULL;
    }

    if (*e->p == '#') {
        memcpy(ph, e->p, n + 1);
        ph[n + 1] = '\0';

        name = sfn_task_string(e->names, ph);

        if (name == NULL) {
            sfn_task_fail(e->call, SFN_DB_VALIDATION,
                          "An expression attribute name used in the document "
                          "path is not defined; attribute name: %s", ph);
            return NULL;
        }

    } else {
        memcpy(e->name, s, n);
        e->name[n] = '\0';
        name = e->name;
    }

    e->p = s + n;
    sfn_db_expr_ws(e);

    if (*e->p == '.' || *e->p == '[') {
        sfn_task_fail(e->call, SFN_DB_VALIDATION,
                      "nested document paths are not supported (\"%s\")",
                      e->start);
        return NULL;
    }

    return name;
}


static cJSON *
sfn_db_expr_value(sfn_db_expr_t *e)
{
    char          ph[256];
    size_t        n;
    const cJSON  *v;

    sfn_db_expr_ws(e);

    for (n = 1; isalnum((unsigned char) e->p[n]) || e->p[n] == '_'; n++) {
        /* void */
    }

    if (n == 1 || n >= sizeof(ph)) {
        sfn_db_expr_error(e, "a value placeholder is expected");
        return NULL;
    }

    memcpy(ph, e->p, n);
    ph[n] = '\0';
    e->p += n;

    v = cJSON_GetObjectItemCaseSensitive(e->values, ph);

    if (v == NULL) {
        sfn_task_fail(e->call, SFN_DB_VALIDATION,
                      "An expression attribute value used in expression is "
                      "not defined; attribute value: %s", ph);
        return NULL;
    }

    return cJSON_Duplicate(v, 1);
}


static cJSON *
sfn_db_expr_function(sfn_db_expr_t *e, int if_not_exists)
{
    cJSON        *a, *b, *it;
    const char   *name;
    const cJSON  *cur;

    if (!sfn_db_expr_char(e, '(')) {
        sfn_db_expr_error(e, "\"(\" is expected");
        return NULL;
    }

    if (if_not_exists) {
        name = sfn_db_expr_path(e);
        if (name == NULL) {
            return NULL;
        }

        if (!sfn_db_expr_char(e, ',')) {
            sfn_db_expr_error(e, "\",\" is expected");
            return NULL;
        }

        b = sfn_db_expr_operand(e);
        if (b == NULL) {
            return NULL;
        }

        if (!sfn_db_expr_char(e, ')')) {
            cJSON_Delete(b);
            sfn_db_expr_error(e, "\")\" is expected");
            return NULL;
        }

        cur = e->old ? cJSON_GetObjectItemCaseSensitive(e->old, name) : NULL;

        if (cur) {
            cJSON_Delete(b);
            return cJSON_Duplicate(cur, 1);
        }

        return b;
    }

    /* list_append(a, b) */

    a = sfn_db_expr_operand(e);
    if (a == NULL) {
        return NULL;
    }

    b = NULL;

    if (!sfn_db_expr_char(e, ',') || (b = sfn_db_expr_operand(e)) == NULL
        || !sfn_db_expr_char(e, ')'))
    {
        cJSON_Delete(a);
        cJSON_Delete(b);

        if (e->call->error[0] == '\0') {
            sfn_db_expr_error(e, "list_append(a, b) is expected");
        }

        return NULL;
    }

    if (!cJSON_IsArray(a) || !cJSON_IsArray(b)) {
        cJSON_Delete(a);
        cJSON_Delete(b);
        sfn_task_fail(e->call, SFN_DB_VALIDATION,
                      "Invalid UpdateExpression: Incorrect operand type for "
                      "operator or function; operator or function: "
                      "list_append");
        return NULL;
    }

    while ((it = cJSON_DetachItemFromArray(b, 0)) != NULL) {
        cJSON_AddItemToArray(a, it);
    }

    cJSON_Delete(b);

    return a;
}


static cJSON *
sfn_db_expr_operand(sfn_db_expr_t *e)
{
    const char   *name;
    const cJSON  *cur;

    sfn_db_expr_ws(e);

    if (*e->p == ':') {
        return sfn_db_expr_value(e);
    }

    if (sfn_db_expr_keyword(e, "if_not_exists")) {
        return sfn_db_expr_function(e, 1);
    }

    if (sfn_db_expr_keyword(e, "list_append")) {
        return sfn_db_expr_function(e, 0);
    }

    name = sfn_db_expr_path(e);
    if (name == NULL) {
        return NULL;
    }

    cur = e->old ? cJSON_GetObjectItemCaseSensitive(e->old, name) : NULL;

    if (cur == NULL && e->lenient) {
        e->missing = 1;
        return NULL;
    }

    if (cur == NULL) {
        sfn_task_fail(e->call, SFN_DB_VALIDATION,
                      "The provided expression refers to an attribute that "
                      "does not exist in the item: %s", name);
        return NULL;
    }

    return cJSON_Duplicate(cur, 1);
}


/* operand [("+" | "-") operand] */

static cJSON *
sfn_db_expr_rhs(sfn_db_expr_t *e)
{
    int     minus;
    cJSON  *a, *b;

    a = sfn_db_expr_operand(e);
    if (a == NULL) {
        return NULL;
    }

    sfn_db_expr_ws(e);

    if (*e->p != '+' && *e->p != '-') {
        return a;
    }

    minus = *e->p++ == '-';

    b = sfn_db_expr_operand(e);
    if (b == NULL) {
        cJSON_Delete(a);
        return NULL;
    }

    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b)) {
        cJSON_Delete(a);
        cJSON_Delete(b);
        sfn_task_fail(e->call, SFN_DB_VALIDATION,
                      "Invalid UpdateExpression: Incorrect operand type for "
                      "operator or function; operator: %s",
                      minus ? "-" : "+");
        return NULL;
    }

    cJSON_SetNumberValue(a, minus ? a->valuedouble - b->valuedouble
                                  : a->valuedouble + b->valuedouble);
    cJSON_Delete(b);

    return a;
}


static int
sfn_db_expr_set_name(sfn_db_expr_t *e, const char *name)
{
    if (strcmp(name, "JobId") == 0) {
        return sfn_task_fail(e->call, SFN_DB_VALIDATION,
                             "Cannot update attribute JobId. This attribute "
                             "is part of the key");
    }

    return SFN_TASK_OK;
}


/* applies UpdateExpression to e->item; values come from e->old */

static int
sfn_db_expr_update(sfn_db_expr_t *e)
{
    int          set, clauses;
    cJSON       *v, *names;
    const char  *name;

    names = cJSON_CreateArray();
    clauses = 0;

    for ( ;; ) {
        sfn_db_expr_ws(e);

        if (*e->p == '\0') {
            break;
        }

        if (sfn_db_expr_keyword(e, "SET")) {
            set = 1;

        } else if (sfn_db_expr_keyword(e, "REMOVE")) {
            set = 0;

        } else if (sfn_db_expr_keyword(e, "ADD")
                   || sfn_db_expr_keyword(e, "DELETE"))
        {
            cJSON_Delete(names);
            return sfn_task_fail(e->call, SFN_DB_VALIDATION,
                                 "Invalid UpdateExpression: ADD and DELETE "
                                 "are not supported, use SET: \"%s\"",
                                 e->start);

        } else {
            cJSON_Delete(names);
            return sfn_db_expr_error(e, "SET or REMOVE is expected");
        }

        clauses++;

        do {
            name = sfn_db_expr_path(e);

            if (name == NULL || sfn_db_expr_set_name(e, name) != SFN_TASK_OK)
            {
                cJSON_Delete(names);
                return SFN_TASK_FAILED;
            }

            if (set) {
                if (!sfn_db_expr_char(e, '=')) {
                    cJSON_Delete(names);
                    return sfn_db_expr_error(e, "\"=\" is expected");
                }

                /* a bare name lives in e->name: the RHS may reuse it */

                cJSON_AddItemToArray(names, cJSON_CreateString(name));

                v = sfn_db_expr_rhs(e);
                if (v == NULL) {
                    cJSON_Delete(names);
                    return SFN_TASK_FAILED;
                }

                name = cJSON_GetArrayItem(names,
                                          cJSON_GetArraySize(names) - 1)
                       ->valuestring;

                if (cJSON_GetObjectItemCaseSensitive(e->item, name)) {
                    cJSON_ReplaceItemInObjectCaseSensitive(e->item, name, v);

                } else {
                    cJSON_AddItemToObject(e->item, name, v);
                }

            } else {
                cJSON_AddItemToArray(names, cJSON_CreateString(name));
                cJSON_DeleteItemFromObjectCaseSensitive(e->item, name);
            }

        } while (sfn_db_expr_char(e, ','));
    }

    if (clauses == 0) {
        cJSON_Delete(names);
        return sfn_db_expr_error(e, "the expression is empty");
    }

    /* touched now lists the names the update wrote, for UPDATED_* */

    cJSON_Delete(e->touched);
    e->touched = names;

    return SFN_TASK_OK;
}


/* term: attribute_exists(p) | attribute_not_exists(p) | a (= | <>) b */

static int
sfn_db_expr_term(sfn_db_expr_t *e, int *result)
{
    int           exists, ne;
    cJSON        *a, *b;
    const char   *name;
    const cJSON  *cur;

    exists = -1;

    if (sfn_db_expr_keyword(e, "attribute_exists")) {
        exists = 1;

    } else if (sfn_db_expr_keyword(e, "attribute_not_exists")) {
        exists = 0;
    }

    if (exists >= 0) {
        if (!sfn_db_expr_char(e, '(')) {
            return sfn_db_expr_error(e, "\"(\" is expected");
        }

        name = sfn_db_expr_path(e);
        if (name == NULL) {
            return SFN_TASK_FAILED;
        }

        if (!sfn_db_expr_char(e, ')')) {
            return sfn_db_expr_error(e, "\")\" is expected");
        }

        cur = e->old ? cJSON_GetObjectItemCaseSensitive(e->old, name) : NULL;
        *result = (cur != NULL) == exists;

        return SFN_TASK_OK;
    }

    /* a missing attribute compares unequal to everything */

    e->lenient = 1;
    e->missing = 0;
    b = NULL;

    a = sfn_db_expr_operand(e);
    if (a == NULL && !e->missing) {
        return SFN_TASK_FAILED;
    }

    sfn_db_expr_ws(e);

    if (e->p[0] == '=') {
        ne = 0;
        e->p++;

    } else if (e->p[0] == '<' && e->p[1] == '>') {
        ne = 1;
        e->p += 2;

    } else {
        cJSON_Delete(a);
        return sfn_db_expr_error(e, "only =, <>, attribute_exists() and "
                                 "attribute_not_exists() are supported");
    }

    e->missing = 0;

    b = sfn_db_expr_operand(e);
    if (b == NULL && !e->missing) {
        cJSON_Delete(a);
        return SFN_TASK_FAILED;
    }

    *result = (a && b && cJSON_Compare(a, b, 1)) != ne;

    cJSON_Delete(a);
    cJSON_Delete(b);

    return SFN_TASK_OK;
}


static int
sfn_db_expr_condition(sfn_db_expr_t *e, int *result)
{
    int  r;

    *result = 1;
    r = 0;

    do {
        if (sfn_db_expr_term(e, &r) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }

        *result = *result && r;

    } while (sfn_db_expr_keyword(e, "AND"));

    sfn_db_expr_ws(e);

    if (*e->p != '\0') {
        return sfn_db_expr_error(e, "only AND joins conditions");
    }

    return SFN_TASK_OK;
}


/* ConditionExpression, when there is one, against the item before */

static int
sfn_db_check_condition(sfn_task_call_t *call, const cJSON *in,
    const cJSON *values, const cJSON *old)
{
    int            ok, rc;
    const char    *cond;
    sfn_db_expr_t  e;

    cond = sfn_task_string(in, "ConditionExpression");
    if (cond == NULL) {
        return SFN_TASK_OK;
    }

    memset(&e, 0, sizeof(sfn_db_expr_t));
    e.call = call;
    e.start = cond;
    e.p = cond;
    e.names = cJSON_GetObjectItemCaseSensitive(in,
                                               "ExpressionAttributeNames");
    e.values = values;
    e.old = old;
    e.touched = cJSON_CreateArray();

    rc = sfn_db_expr_condition(&e, &ok);
    cJSON_Delete(e.touched);

    if (rc != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    if (!ok) {
        return sfn_task_fail(call, "DynamoDB.ConditionalCheckFailedException",
                             "The conditional request failed: %s", cond);
    }

    return SFN_TASK_OK;
}


/* DynamoDB's result for ReturnValues */

static cJSON *
sfn_db_return_values(const char *rv, const cJSON *old, const cJSON *item,
    const cJSON *touched)
{
    cJSON        *r, *sel;
    const cJSON  *src, *it, *v;

    r = cJSON_CreateObject();

    if (rv == NULL || strcmp(rv, "NONE") == 0) {
        return r;
    }

    src = (strcmp(rv, "ALL_OLD") == 0 || strcmp(rv, "UPDATED_OLD") == 0)
          ? old : item;

    if (src == NULL) {
        return r;
    }

    if (strncmp(rv, "ALL_", 4) == 0) {
        cJSON_AddItemToObject(r, "Attributes", sfn_db_marshal_map(src));
        return r;
    }

    sel = cJSON_CreateObject();

    cJSON_ArrayForEach(it, touched) {
        v = cJSON_GetObjectItemCaseSensitive(src, it->valuestring);

        if (v && !cJSON_GetObjectItemCaseSensitive(sel, it->valuestring)) {
            cJSON_AddItemToObject(sel, it->valuestring, cJSON_Duplicate(v, 1));
        }
    }

    if (sel->child) {
        cJSON_AddItemToObject(r, "Attributes", sfn_db_marshal_map(sel));
    }

    cJSON_Delete(sel);

    return r;
}


static int
sfn_db_return_values_valid(sfn_task_call_t *call, const char *rv, int put)
{
    int  i;

    static const char  *all[] = { "NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD",
                                  "UPDATED_NEW", NULL };

    if (rv == NULL) {
        return SFN_TASK_OK;
    }

    for (i = 0; all[i]; i++) {
        if (strcmp(rv, all[i]) == 0 && (!put || i < 2)) {
            return SFN_TASK_OK;
        }
    }

    return sfn_task_fail(call, SFN_DB_VALIDATION,
                         "ReturnValues \"%s\" is not valid for %s", rv,
                         put ? "putItem (NONE, ALL_OLD)" : "updateItem");
}


static int
sfn_db_dynamo_write(sfn_task_call_t *call, int put)
{
    int            rc;
    cJSON         *values, *old, *item, *res_json;
    PGconn        *conn;
    const char    *job_id, *rv, *expr;
    const cJSON   *in, *map;
    sfn_db_expr_t  e;

    in = call->input;
    map = cJSON_GetObjectItemCaseSensitive(in, put ? "Item" : "Key");

    if (!cJSON_IsObject(map)) {
        return sfn_task_fail(call, SFN_DB_VALIDATION, "\"%s\" is required",
                             put ? "Item" : "Key");
    }

    if (!put && sfn_db_key_only(call, map) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    job_id = sfn_db_job_id(call, map, put ? "Item" : "Key");
    rv = sfn_task_string(in, "ReturnValues");
    expr = sfn_task_string(in, "UpdateExpression");

    if (job_id == NULL
        || sfn_db_return_values_valid(call, rv, put) != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    if (!put && expr == NULL) {
        return sfn_task_fail(call, SFN_DB_VALIDATION,
                             "\"UpdateExpression\" is required");
    }

    values = sfn_db_unmarshal_map(call,
                 cJSON_GetObjectItemCaseSensitive(in,
                                                  "ExpressionAttributeValues"),
                 "ExpressionAttributeValues");
    if (values == NULL) {
        return SFN_TASK_FAILED;
    }

    item = put ? sfn_db_unmarshal_map(call, map, "Item") : NULL;

    if (put && item == NULL) {
        cJSON_Delete(values);
        return SFN_TASK_FAILED;
    }

    conn = sfn_db_connect(call);
    if (conn == NULL) {
        cJSON_Delete(values);
        cJSON_Delete(item);
        return SFN_TASK_FAILED;
    }

    old = NULL;
    memset(&e, 0, sizeof(sfn_db_expr_t));
    e.touched = cJSON_CreateArray();

    rc = sfn_db_lock_item(call, conn, job_id, &old);

    if (rc == SFN_TASK_OK) {
        rc = sfn_db_check_condition(call, in, values, old);
    }

    if (rc == SFN_TASK_OK && !put) {
        item = old ? cJSON_Duplicate(old, 1) : cJSON_CreateObject();

        if (old == NULL) {
            cJSON_AddStringToObject(item, "JobId", job_id);
        }

        e.call = call;
        e.start = expr;
        e.p = expr;
        e.names = cJSON_GetObjectItemCaseSensitive(in,
                                                "ExpressionAttributeNames");
        e.values = values;
        e.old = old;
        e.item = item;

        rc = sfn_db_expr_update(&e);
    }

    if (rc == SFN_TASK_OK) {
        rc = sfn_db_store_item(call, conn, job_id, item, put);
    }

    if (rc == SFN_TASK_OK) {
        rc = sfn_db_command(call, conn, "COMMIT");
    }

    /* a connection left inside a transaction is closed: rolled back */

    sfn_db_release(conn);

    if (rc == SFN_TASK_OK) {
        res_json = sfn_db_return_values(rv, old, item, e.touched);
        call->output = res_json;
    }

    cJSON_Delete(e.touched);
    cJSON_Delete(values);
    cJSON_Delete(item);
    cJSON_Delete(old);

    return rc;
}


/* ours: one upsert statement; returns the row */

static int
sfn_db_ours_write(sfn_task_call_t *call, int put)
{
    int           i, n;
    char         *attrs_text, *remove_text;
    char          sm[256];
    cJSON        *remove;
    PGconn       *conn;
    PGresult     *res;
    const char   *params[8], *job_id, *status, *exec, *sql;
    const cJSON  *in, *attrs, *rm, *it;

    in = call->input;
    job_id = sfn_task_string(in, "jobId");
    status = sfn_task_string(in, "status");
    attrs = cJSON_GetObjectItemCaseSensitive(in, "attributes");
    rm = cJSON_GetObjectItemCaseSensitive(in, "remove");

    if (job_id == NULL || job_id[0] == '\0') {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"jobId\" is required (or DynamoDB's "
                             "\"TableName\" with \"%s\")",
                             put ? "Item" : "Key");
    }

    if (put && status == NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"status\" is required");
    }

    if (attrs && !cJSON_IsObject(attrs)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"attributes\" must be an object");
    }

    remove = cJSON_CreateArray();

    if (rm) {
        n = cJSON_IsArray(rm) ? cJSON_GetArraySize(rm) : -1;

        for (i = 0; i < n; i++) {
            it = cJSON_GetArrayItem(rm, i);

            if (!cJSON_IsString(it)) {
                n = -1;
                break;
            }

            cJSON_AddItemToArray(remove, cJSON_CreateString(it->valuestring));
        }

        if (n < 0) {
            cJSON_Delete(remove);
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"remove\" must be an array of names");
        }
    }

    /* the names to remove travel as a JSON array: no quoting to get wrong */

    attrs_text = attrs ? cJSON_PrintUnformatted(attrs) : strdup("{}");
    remove_text = cJSON_PrintUnformatted(remove);
    cJSON_Delete(remove);

    exec = sfn_task_string(in, "executionArn");
    if (exec == NULL && call->env) {
        exec = call->env->execution;
    }

    params[0] = job_id;
    params[1] = status;
    params[2] = attrs_text;
    params[3] = remove_text;
    params[4] = sfn_task_string(in, "bucket");
    params[5] = sfn_task_string(in, "key");
    params[6] = exec;
    params[7] = sfn_task_string(in, "stateMachine");

    if (params[7] == NULL) {
        params[7] = sfn_db_state_machine(exec, sm, sizeof(sm));
    }

    if (put) {
        sql = "INSERT INTO sfn_jobs (job_id, status, attributes, bucket, "
              "key, execution_arn, state_machine) "
              "VALUES ($1, $2, "
              "$3::jsonb - ARRAY(SELECT jsonb_array_elements_text($4)), "
              "$5, $6, $7, $8) "
              "ON CONFLICT (job_id) DO UPDATE SET "
              "status = EXCLUDED.status, attributes = EXCLUDED.attributes, "
              "bucket = EXCLUDED.bucket, key = EXCLUDED.key, "
              "execution_arn = COALESCE(EXCLUDED.execution_arn, "
              "sfn_jobs.execution_arn), "
              "state_machine = COALESCE(EXCLUDED.state_machine, "
              "sfn_jobs.state_machine), updated_at = now() "
              "RETURNING " SFN_DB_COLS;

    } else {
        sql = "INSERT INTO sfn_jobs (job_id, status, attributes, bucket, "
              "key, execution_arn, state_machine) "
              "VALUES ($1, COALESCE($2::text, ''), "
              "$3::jsonb - ARRAY(SELECT jsonb_array_elements_text($4)), "
              "$5, $6, $7, $8) "
              "ON CONFLICT (job_id) DO UPDATE SET "
              "status = COALESCE($2::text, sfn_jobs.status), "
              "attributes = (sfn_jobs.attributes || $3::jsonb) "
              "- ARRAY(SELECT jsonb_array_elements_text($4)), "
              "bucket = COALESCE($5, sfn_jobs.bucket), "
              "key = COALESCE($6, sfn_jobs.key), updated_at = now() "
              "RETURNING " SFN_DB_COLS;
    }

    if (attrs_text == NULL || remove_text == NULL) {
        free(attrs_text);
        free(remove_text);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    conn = sfn_db_connect(call);

    res = conn ? sfn_db_exec(call, conn, sql, 8, params) : NULL;

    free(attrs_text);
    free(remove_text);

    if (res == NULL) {
        sfn_db_release(conn);
        return SFN_TASK_FAILED;
    }

    call->output = sfn_db_row_ours(res);

    PQclear(res);
    sfn_db_release(conn);

    return SFN_TASK_OK;
}


static int
sfn_db_is_dynamo(const cJSON *in)
{
    return cJSON_GetObjectItemCaseSensitive(in, "TableName") != NULL
           || cJSON_GetObjectItemCaseSensitive(in, "Item") != NULL
           || cJSON_GetObjectItemCaseSensitive(in, "Key") != NULL;
}


static int
sfn_task_db_put(sfn_task_call_t *call)
{
    if (!cJSON_IsObject(call->input)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the input is not an object");
    }

    return sfn_db_is_dynamo(call->input) ? sfn_db_dynamo_write(call, 1)
                                         : sfn_db_ours_write(call, 1);
}


static int
sfn_task_db_update(sfn_task_call_t *call)
{
    if (!cJSON_IsObject(call->input)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the input is not an object");
    }

    return sfn_db_is_dynamo(call->input) ? sfn_db_dynamo_write(call, 0)
                                         : sfn_db_ours_write(call, 0);
}


static int
sfn_task_db_get(sfn_task_call_t *call)
{
    int             dynamo;
    cJSON          *item, *r, *proj;
    PGconn         *conn;
    PGresult       *res;
    const char     *job_id, *pe, *name;
    const cJSON    *in, *key;
    sfn_db_expr_t   e;

    in = call->input;

    if (!cJSON_IsObject(in)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the input is not an object");
    }

    dynamo = sfn_db_is_dynamo(in);

    if (dynamo) {
        key = cJSON_GetObjectItemCaseSensitive(in, "Key");

        if (sfn_db_key_only(call, key) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }

        job_id = sfn_db_job_id(call, key, "Key");

    } else {
        job_id = sfn_task_string(in, "jobId");

        if (job_id == NULL) {
            sfn_task_fail(call, "States.TaskFailed",
                          "\"jobId\" is required (or DynamoDB's "
                          "\"TableName\" with \"Key\")");
        }
    }

    if (job_id == NULL) {
        return SFN_TASK_FAILED;
    }

    conn = sfn_db_connect(call);
    if (conn == NULL) {
        return SFN_TASK_FAILED;
    }

    res = sfn_db_exec(call, conn,
                      "SELECT " SFN_DB_COLS " FROM sfn_jobs "
                      "WHERE job_id = $1",
                      1, &job_id);
    if (res == NULL) {
        sfn_db_release(conn);
        return SFN_TASK_FAILED;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        sfn_db_release(conn);

        if (dynamo) {
            /* as DynamoDB: no "Item" when there is none */
            return SFN_TASK_OK;
        }

        return sfn_task_fail(call, "States.TaskFailed",
                             "there is no job \"%s\"", job_id);
    }

    if (!dynamo) {
        call->output = sfn_db_row_ours(res);
        PQclear(res);
        sfn_db_release(conn);
        return SFN_TASK_OK;
    }

    item = sfn_db_row_item(res);
    PQclear(res);
    sfn_db_release(conn);

    /* ProjectionExpression: a list of top-level names */

    pe = sfn_task_string(in, "ProjectionExpression");

    if (pe) {
        memset(&e, 0, sizeof(sfn_db_expr_t));
        e.call = call;
        e.start = pe;
        e.p = pe;
        e.names = cJSON_GetObjectItemCaseSensitive(in,
                                                "ExpressionAttributeNames");
        e.touched = cJSON_CreateArray();
        proj = cJSON_CreateObject();

        do {
            name = sfn_db_expr_path(&e);

            if (name == NULL) {
                cJSON_Delete(e.touched);
                cJSON_Delete(proj);
                cJSON_Delete(item);
                return SFN_TASK_FAILED;
            }

            if (cJSON_GetObjectItemCaseSensitive(item, name)
                && !cJSON_GetObjectItemCaseSensitive(proj, name))
            {
                cJSON_AddItemToObject(proj, name,
                    cJSON_DetachItemFromObjectCaseSensitive(item, name));
            }

        } while (sfn_db_expr_char(&e, ','));

        cJSON_Delete(e.touched);
        cJSON_Delete(item);
        item = proj;
    }

    r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "Item", sfn_db_marshal_map(item));
    cJSON_Delete(item);

    call->output = r;

    return SFN_TASK_OK;
}


int
sfn_task_db_job_set(sfn_task_call_t *call, const char *job_id,
    const char *status, const cJSON *attrs, char **bucket, char **key)
{
    char         *attrs_text;
    char          sm[256];
    PGconn       *conn;
    PGresult     *res;
    const char   *params[5], *exec, *s;

    if (bucket) {
        *bucket = NULL;
    }

    if (key) {
        *key = NULL;
    }

    attrs_text = attrs ? cJSON_PrintUnformatted(attrs) : strdup("{}");
    if (attrs_text == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    conn = sfn_db_connect(call);
    if (conn == NULL) {
        free(attrs_text);
        return SFN_TASK_FAILED;
    }

    exec = call->env ? call->env->execution : NULL;

    params[0] = job_id;
    params[1] = status;
    params[2] = attrs_text;
    params[3] = exec;
    params[4] = sfn_db_state_machine(exec, sm, sizeof(sm));

    res = sfn_db_exec(call, conn,
                      "INSERT INTO sfn_jobs (job_id, status, attributes, "
                      "execution_arn, state_machine) "
                      "VALUES ($1, COALESCE($2::text, ''), $3::jsonb, $4, $5) "
                      "ON CONFLICT (job_id) DO UPDATE SET "
                      "status = COALESCE($2::text, sfn_jobs.status), "
                      "attributes = sfn_jobs.attributes || $3::jsonb, "
                      "updated_at = now() "
                      "RETURNING " SFN_DB_COLS,
                      5, params);

    free(attrs_text);

    if (res == NULL) {
        sfn_db_release(conn);
        return SFN_TASK_FAILED;
    }

    s = sfn_db_value(res, SFN_DB_COL_BUCKET);
    if (bucket && s) {
        *bucket = strdup(s);
    }

    s = sfn_db_value(res, SFN_DB_COL_KEY);
    if (key && s) {
        *key = strdup(s);
    }

    PQclear(res);
    sfn_db_release(conn);

    return SFN_TASK_OK;
}
