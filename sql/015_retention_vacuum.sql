-- ngx_sfn schema, version 15: the space retention frees is reused.
--
-- Deleted rows are dead tuples until a VACUUM; the index pages a VACUUM
-- empties are deleted then, but PostgreSQL recycles a deleted page only
-- once no transaction older than its deletion remains, at a later VACUUM.
-- Left to autovacuum, that later one comes once a fifth of the table has
-- been written again: until then page splits take new pages at the end of
-- the index while the freed ones wait.  On a store of 25,000 executions of
-- which 20,000 were deleted, one VACUUM left 4,900 of the 6,300 pages it
-- had deleted from sfn_payloads_pkey unusable, and 20,000 new executions
-- grew that index from 64 MB to 104 MB and the store by a quarter, though
-- the tables took the new rows into their freed space.  So the sweeper
-- (ngx_http_sfn_retention.c) runs a plain VACUUM of the tables it deleted
-- from once a round of batches is over, and another at its next turn,
-- which recycles what the first deleted.  Neither takes a lock that stops
-- reads or writes; they go at the pace set for autovacuum, so they weigh
-- on the other sessions no more than autovacuum would.

-- the sweeper's session: its commits wait for no WAL flush (a batch lost
-- in a crash is swept again), its VACUUM at autovacuum's pace
CREATE FUNCTION sfn_retention_session() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_delay  text := current_setting('autovacuum_vacuum_cost_delay');
    v_limit  text := current_setting('autovacuum_vacuum_cost_limit');
BEGIN
    PERFORM set_config('synchronous_commit', 'off', false);

    -- -1: autovacuum takes the value VACUUM has
    IF v_delay NOT LIKE '-%' THEN
        PERFORM set_config('vacuum_cost_delay', v_delay, false);
    END IF;

    IF v_limit NOT LIKE '-%' THEN
        PERFORM set_config('vacuum_cost_limit', v_limit, false);
    END IF;
END
$$;


-- sql/007's sweep took the executions it deletes without locking them: a
-- RedriveExecution that claimed one in between (it may come up to 14
-- days after the stop, retention as soon as a second) had its history
-- and its row deleted under it while it ran again
CREATE OR REPLACE FUNCTION sfn_retention_sweep(p_keep interval,
    p_jobs interval, p_rows int, OUT executions int, OUT deleted bigint,
    OUT more boolean, OUT took float8)
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

    -- each row locked as it is taken: a redrive that claimed it first
    -- (sfn_execution_redrive() locks it too) keeps it, one that comes
    -- after finds it gone
    FOR v_arn IN
        SELECT arn FROM sfn_executions
        WHERE status <> 'RUNNING' AND stop_date < v_before
        ORDER BY stop_date LIMIT p_rows
        FOR UPDATE SKIP LOCKED
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
