-- ngx_sfn schema, version 7: retention (sfn_retention).
--
-- Closed executions are deleted some time after they stopped, with their
-- history, payloads, task tokens and mail, in batches of a bounded number
-- of rows: one transaction each, one at a time for the whole database (a
-- try of an advisory lock, so a worker that does not get it skips its
-- turn).  Job rows follow a rule of their own: they are the application's
-- records (DynamoDB's items), kept unless sfn_retention names a jobs=
-- duration, and never while an execution working for them runs.
--
-- The history is not partitioned by time.  Retention counts from the
-- stop, and a Standard execution may run for a year: a partition by start
-- could be dropped only once its last execution had stopped long enough,
-- and dropping one takes an ACCESS EXCLUSIVE lock on the parent, which
-- queues every write of the history behind any long read.  Deleted rows
-- are dead tuples that autovacuum makes free space for the rows written
-- next; the files keep their size (bench/scale/retention measures both).

-- closed executions by the date they stopped: the order of retention
CREATE INDEX sfn_executions_stopped
    ON sfn_executions (stop_date) WHERE status <> 'RUNNING';

CREATE INDEX sfn_jobs_updated ON sfn_jobs (updated_at);

-- Deletes what stopped before now() - p_keep (and job rows not updated
-- since now() - p_jobs, when p_jobs is not NULL), p_rows rows at most.
-- executions is -1 when another session holds the sweep; more tells that
-- rows past retention remain; took is the time it took, in milliseconds,
-- by which the caller sizes the next batch.
CREATE FUNCTION sfn_retention_sweep(p_keep interval, p_jobs interval,
    p_rows int, OUT executions int, OUT deleted bigint, OUT more boolean,
    OUT took float8)
LANGUAGE plpgsql AS $$
DECLARE
    v_t0      timestamptz := clock_timestamp();
    v_before  timestamptz := now() - p_keep;
    v_budget  bigint := p_rows;
    v_arn     text;
    n         bigint;
BEGIN
    executions := 0;
    deleted := 0;
    more := false;
    took := 0;

    IF NOT pg_try_advisory_xact_lock(1936092673) THEN
        executions := -1;
        RETURN;
    END IF;

    FOR v_arn IN
        SELECT arn FROM sfn_executions
        WHERE status <> 'RUNNING' AND stop_date < v_before
        ORDER BY stop_date LIMIT p_rows
    LOOP
        IF v_budget <= 0 THEN
            more := true;
            EXIT;
        END IF;

        -- a long history goes over several batches, newest events first:
        -- what is left is still a prefix of it
        DELETE FROM sfn_history WHERE execution_arn = v_arn
            AND id IN (SELECT id FROM sfn_history
                       WHERE execution_arn = v_arn
                       ORDER BY id DESC LIMIT v_budget);
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        v_budget := v_budget - n;

        DELETE FROM sfn_payloads WHERE execution_arn = v_arn
            AND hash IN (SELECT hash FROM sfn_payloads
                         WHERE execution_arn = v_arn
                         LIMIT greatest(v_budget, 0));
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        v_budget := v_budget - n;

        IF v_budget <= 0
           AND (EXISTS (SELECT 1 FROM sfn_history
                        WHERE execution_arn = v_arn)
                OR EXISTS (SELECT 1 FROM sfn_payloads
                           WHERE execution_arn = v_arn))
        THEN
            more := true;
            EXIT;
        END IF;

        -- tokens and mail are few: a task's, a stop's
        DELETE FROM sfn_tokens WHERE execution_arn = v_arn;
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        v_budget := v_budget - n;

        DELETE FROM sfn_mailbox WHERE execution_arn = v_arn;
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        v_budget := v_budget - n;

        DELETE FROM sfn_executions WHERE arn = v_arn;
        deleted := deleted + 1;
        v_budget := v_budget - 1;
        executions := executions + 1;
    END LOOP;

    IF NOT more AND v_budget <= 0 THEN
        more := EXISTS (SELECT 1 FROM sfn_executions
                        WHERE status <> 'RUNNING' AND stop_date < v_before);
    END IF;

    IF p_jobs IS NULL OR v_budget <= 0 THEN
        more := more OR (p_jobs IS NOT NULL AND v_budget <= 0);
        took := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
        RETURN;
    END IF;

    DELETE FROM sfn_jobs WHERE job_id IN (
        SELECT j.job_id FROM sfn_jobs j
        WHERE j.updated_at < now() - p_jobs
        AND NOT EXISTS (SELECT 1 FROM sfn_executions e
                        WHERE e.arn = j.execution_arn
                        AND e.status = 'RUNNING')
        ORDER BY j.updated_at LIMIT v_budget);
    GET DIAGNOSTICS n = ROW_COUNT;
    deleted := deleted + n;

    more := more OR n = v_budget;
    took := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
END
$$;
