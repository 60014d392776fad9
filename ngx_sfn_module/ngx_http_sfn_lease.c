
/*
 * Copyright (C) ngx_sfn authors
 *
 * Leases and recovery of Standard executions: every worker claims, in
 * turns, RUNNING executions whose lease has lapsed and resumes them from
 * their last snapshot, renews the leases of those it runs, and hands them
 * back as it exits.
 */


#include "ngx_http_sfn_maprun.h"

#include <libpq-fe.h>


#define NGX_HTTP_SFN_RENEW         2000
#define NGX_HTTP_SFN_SCAN          1000
#define NGX_HTTP_SFN_CLAIM         "32"


static ngx_event_t                ngx_http_sfn_renew_ev;
static ngx_event_t                ngx_http_sfn_scan_ev;
static ngx_uint_t                 ngx_http_sfn_scanning;
static uint64_t                   ngx_http_sfn_claims;


/*
 * Recovery.  Every worker renews the leases of the Standard executions it
 * owns and, once a second, claims executions whose lease has run out (a
 * worker killed, a reload, a restart, another node gone) with FOR UPDATE
 * SKIP LOCKED, then resumes them here.  An execution is resumed from its
 * input; its recorded history keeps the first copy of every event, and
 * tasks, being deterministic, are simply run again.  The children of a
 * running map run are not claimed here: its parent's next owner claims
 * them with it (sql/019_map_run_children.sql).
 */

/*
 * A row of the claim below, or of sfn_execution_redrive() (sql/010) for
 * RedriveExecution, in the same columns: the execution resumes at its
 * last step, or from its input, or, redriven and with no step recorded
 * since, from the state its redrive goes on from.
 */

void
ngx_http_sfn_recover_row(ngx_http_sfn_main_conf_t *smcf, void *pgres,
    int row)
{
    PGresult *res = pgres;

    ngx_str_t                machine, def;
    ngx_http_sfn_run_t      *run;
    ngx_http_sfn_machine_t  *sm;

    /*
     * a child of a map run that has ended (columns 21 and 22: its
     * ItemProcessor and type): resumed with it, and aborted as the map
     * run's other children were
     */

    if (PQnfields(res) <= 22 || PQgetisnull(res, row, 21)) {
        (void) ngx_http_sfn_recover(smcf, res, row, NULL, NULL, NULL);
        return;
    }

    machine.data = (u_char *) PQgetvalue(res, row, 1);
    machine.len = PQgetlength(res, row, 1);
    def.data = (u_char *) PQgetvalue(res, row, 21);
    def.len = PQgetlength(res, row, 21);

    sm = ngx_http_sfn_maprun_machine(smcf, &machine, &def,
                                     ngx_strcmp(PQgetvalue(res, row, 22),
                                                "EXPRESS") == 0
                                     ? SFN_EXPRESS : SFN_STANDARD, NULL);
    if (sm == NULL) {
        return;
    }

    run = ngx_http_sfn_recover(smcf, res, row, sm, NULL, NULL);

    if (run && !run->finished) {
        (void) sfn_exec_stop(run->exec, "States.Aborted",
                             "the map run ended");
        ngx_http_sfn_run_after(run);
    }
}


/*
 * One row: sm, if given, is the machine it runs (a map run's children);
 * handler is told its end.  NULL if it is not resumed here.
 */

ngx_http_sfn_run_t *
ngx_http_sfn_recover(ngx_http_sfn_main_conf_t *smcf, void *pgres, int row,
    ngx_http_sfn_machine_t *sm, ngx_http_sfn_finish_pt handler, void *data)
{
    PGresult *res = pgres;

    char                    *snapshot;
    u_char                   err[1024];
    int64_t                  start_ms;
    ngx_str_t                name, machine, input, job, arn, key, def;
    ngx_str_t                exec_arn, version, test_case;
    ngx_http_sfn_run_t      *run;
    ngx_http_sfn_record_t    rec;
    const sfn_mock_case_t   *mock;
    ngx_http_sfn_redrive_t   rd, *redrive;

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
        return NULL;
    }

    version.data = (u_char *) PQgetvalue(res, row, 12);
    version.len = PQgetlength(res, row, 12);

    /* one started on a version runs it to the end */

    if (sm == NULL && version.len == 0) {
        sm = ngx_http_sfn_machine_find(smcf, &machine);
    }

    if (sm == NULL && !PQgetisnull(res, row, 9) && !PQgetisnull(res, row, 8))
    {

        /* a state machine created through the AWS API */

        arn.data = (u_char *) PQgetvalue(res, row, 6);
        arn.len = ngx_strlen(arn.data);
        key.data = (u_char *) PQgetvalue(res, row, 8);
        key.len = ngx_strlen(key.data);
        def.data = (u_char *) PQgetvalue(res, row, 9);
        def.len = PQgetlength(res, row, 9);

        sm = ngx_http_sfn_machine_get(&machine, &arn, &version, &key,
                 ngx_strcmp(PQgetvalue(res, row, 7), "EXPRESS") == 0
                 ? SFN_EXPRESS : SFN_STANDARD, &def, ngx_cycle->log);
    }

    if (sm == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "sfn execution \"%V\" cannot resume: state machine "
                      "\"%V\" is not configured", &name, &machine);
        return NULL;
    }

    /* a mocked one goes on with its test case, if the file still has it */

    mock = NULL;

    if (!PQgetisnull(res, row, 20)) {
        test_case.data = (u_char *) PQgetvalue(res, row, 20);
        test_case.len = PQgetlength(res, row, 20);

        mock = ngx_http_sfn_mock_select(smcf, sm, &test_case, err,
                                        sizeof(err));
        if (mock == NULL) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "sfn execution \"%V\" cannot resume: test case "
                          "\"%V\": %s", &name, &test_case, err);
            return NULL;
        }
    }

    redrive = NULL;
    rd.count = ngx_atoi((u_char *) PQgetvalue(res, row, 14),
                        PQgetlength(res, row, 14));

    if (*snapshot == '\0' && rd.count > 0 && rd.count != NGX_ERROR) {
        if (PQgetisnull(res, row, 15) || PQgetisnull(res, row, 16)) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "sfn execution \"%V\" cannot be redriven: no "
                          "state to go on from", &name);
            return NULL;
        }

        rd.state.data = (u_char *) PQgetvalue(res, row, 15);
        rd.state.len = PQgetlength(res, row, 15);
        rd.input.data = (u_char *) PQgetvalue(res, row, 16);
        rd.input.len = PQgetlength(res, row, 16);
        rd.event_id = ngx_atoof((u_char *) PQgetvalue(res, row, 17),
                                PQgetlength(res, row, 17));
        ngx_str_null(&rd.map_run);
        rd.map_run_count = 0;

        /* RedriveExecution's: the map run it redrives (columns 23, 24) */

        if (PQnfields(res) > 24 && !PQgetisnull(res, row, 23)) {
            rd.map_run.data = (u_char *) PQgetvalue(res, row, 23);
            rd.map_run.len = PQgetlength(res, row, 23);
            rd.map_run_count = ngx_atoi((u_char *) PQgetvalue(res, row, 24),
                                        PQgetlength(res, row, 24));
        }

        redrive = &rd;
    }

    run = ngx_http_sfn_run_create(smcf, sm, &name, &input, &job, start_ms,
                                  snapshot, redrive, mock, ngx_cycle->log);
    if (run == NULL) {
        return NULL;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "sfn execution \"%V\" of \"%V\" %s", &name, &machine,
                  *snapshot ? "resumed at its last step"
                  : redrive ? "redriven" : "resumed from its input");

    ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));
    rec.name = run->name;
    rec.arn = run->arn;
    rec.machine = sm->name;
    rec.input = input;
    rec.durable = run->durable;
    rec.status = SFN_RUNNING;
    rec.start_ms = start_ms;

    if (!PQgetisnull(res, row, 11)) {
        rec.trace.data = (u_char *) PQgetvalue(res, row, 11);
        rec.trace.len = PQgetlength(res, row, 11);
    }

    rec.version = sm->version;

    if (!PQgetisnull(res, row, 13)) {
        rec.alias.data = (u_char *) PQgetvalue(res, row, 13);
        rec.alias.len = PQgetlength(res, row, 13);
    }

    /* the row's redrive date: the zone tells the same as the row */

    if (rd.count > 0 && rd.count != NGX_ERROR) {
        rec.redrive_count = rd.count;
        rec.redrive_ms = PQgetisnull(res, row, 19)
                         ? 0 : ngx_atoof((u_char *) PQgetvalue(res, row, 19),
                                         PQgetlength(res, row, 19));
    }

    if (redrive) {
        /* the end of the run redriven leaves the record */
        ngx_str_set(&rec.output, "");
        ngx_str_set(&rec.error, "");
        ngx_str_set(&rec.cause, "");
    }

    /* a cache of what PostgreSQL holds: a failure is logged there */

    (void) ngx_http_sfn_shm_put(smcf, &rec);

    ngx_queue_insert_tail(&ngx_http_sfn_runs, &run->queue);
    ngx_http_sfn_durable += run->durable;

    run->on_finish = handler;
    run->on_finish_data = data;

    if (*snapshot == '\0') {
        (void) sfn_exec_start(run->exec);
    }

    ngx_http_sfn_run_after(run);

    /* it may have ended, and be freed: only a running one is told */

    return ngx_http_sfn_run_find(&exec_arn);
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


/*
 * The claim is numbered (sql/014_claims.sql): sent again after its answer
 * was lost, it answers the executions it took the first time as well, and
 * those first.  A worker that comes back from an outage of the database
 * claims nothing for a lease's time: leases that ran out meanwhile say
 * nothing of their owners, which could not renew them either and are
 * given the time to; a worker behind on its writes takes no other
 * worker's executions.
 */

static void
ngx_http_sfn_scan_handler(ngx_event_t *ev)
{
    u_char       claim[NGX_INT64_LEN + 1];
    const char  *values[2];

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    *ngx_sprintf(claim, "%uL", ++ngx_http_sfn_claims) = '\0';

    values[0] = (const char *) ngx_http_sfn_owner;
    values[1] = (const char *) claim;

    if (!ngx_http_sfn_scanning
        && ngx_http_sfn_pg_since_outage() >= NGX_HTTP_SFN_LEASE_MS
        && ngx_http_sfn_pg_busy() == NGX_OK)
    {
        ngx_http_sfn_scanning = 1;

        if (ngx_http_sfn_pg_query(
                "UPDATE sfn_executions e SET owner = $1, "
                "lease_until = now() + interval '" NGX_HTTP_SFN_LEASE "', "
                "version = e.version + 1, claim = $2 "
                "FROM (SELECT x.arn, m.arn AS m_arn, "
                "coalesce(v.type, m.type) AS m_type, "
                "CASE WHEN v.arn IS NULL THEN m.revision::text || '/' || "
                "extract(epoch FROM m.updated_at)::text "
                "ELSE extract(epoch FROM v.created_at)::text END AS m_key, "
                "CASE WHEN v.arn IS NULL THEN m.definition "
                "ELSE v.definition END AS m_def, v.arn AS v_arn, "
                "r.state AS r_state, r.input AS r_input, "
                "r.event_id AS r_event, "
                "p.processor AS p_def, p.child_type AS p_type "
                "FROM sfn_executions x LEFT JOIN sfn_state_machines m "
                "ON m.name = x.state_machine AND m.source = 'api' "
                "LEFT JOIN sfn_versions v ON v.arn = x.version_arn "
                "LEFT JOIN LATERAL (SELECT p.* FROM sfn_redrive_machine("
                "x.state_machine, x.version_arn) d, sfn_redrive_point(x.arn, "
                "d.def, sfn_redrive_before(x.arn, x.redrive_count)) p "
                "WHERE x.snapshot IS NULL AND x.redrive_count > 0) r "
                "ON true "
                "LEFT JOIN sfn_map_runs p ON p.arn = x.map_run "
                "WHERE x.status = 'RUNNING' AND x.type = 'STANDARD' "
                "AND (x.map_run IS NULL OR p.status <> 'RUNNING') "
                "AND (x.lease_until IS NULL OR x.lease_until < now() "
                "OR (x.owner = $1 AND x.claim = $2)) "
                "ORDER BY coalesce(x.owner = $1 AND x.claim = $2, false) "
                "DESC, x.start_date LIMIT " NGX_HTTP_SFN_CLAIM " "
                "FOR UPDATE OF x SKIP LOCKED) c "
                "WHERE e.arn = c.arn "
                "RETURNING e.name, e.state_machine, e.input, "
                "(extract(epoch FROM e.start_date) * 1000)::bigint, "
                "coalesce(e.job_id, ''), coalesce(e.snapshot, ''), "
                "c.m_arn, c.m_type, c.m_key, c.m_def, e.arn, "
                "e.trace_header, c.v_arn, e.alias_arn, e.redrive_count, "
                "c.r_state, c.r_input, c.r_event, NULL, "
                "(extract(epoch FROM e.redrive_date) * 1000)::bigint, "
                "e.mock_test_case, c.p_def, c.p_type",
                2, values,
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

    /*
     * a worker running no Standard execution holds no lease; one that does
     * renews past the queue's mark too, or its executions would be taken
     * over for a slow database (with no memory for it, the next renewal
     * comes in NGX_HTTP_SFN_RENEW, within the lease)
     */

    if (ngx_http_sfn_durable) {
        (void) ngx_http_sfn_pg_record(
            "UPDATE sfn_executions SET "
            "lease_until = now() + interval '" NGX_HTTP_SFN_LEASE "' "
            "WHERE owner = $1 AND status = 'RUNNING'", 1, values,
            NULL, NULL);
    }

    ngx_add_timer(ev, NGX_HTTP_SFN_RENEW);
}


/* at exit, blocking: hand the leases back so a successor resumes at once */

void
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


/* what this worker writes in the owner column of the executions it runs */

u_char *
ngx_http_sfn_lease_owner(void)
{
    return ngx_http_sfn_owner;
}


void
ngx_http_sfn_lease_init(ngx_cycle_t *cycle)
{
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
