-- ngx_sfn schema, version 19: the Standard children of a map run taken
-- over with it.
--
-- A map run's Standard children are executions of "<machine>/<label>", a
-- state machine that lives in the worker running the map run: the
-- recovery (ngx_http_sfn_lease.c) leaves the children of a RUNNING map run
-- to the parent's next owner, whose map run claims them by window, in
-- item order, and either takes a child's end as recorded or resumes it
-- from its last step with its result going to the map run; no child is
-- started twice.  A child whose map run has ended (it was stopped while
-- its owner was gone) is resumed by the recovery with the map run's
-- ItemProcessor, and aborted.

ALTER TABLE sfn_executions
    ADD COLUMN map_run text,
    ADD COLUMN map_index bigint;

CREATE INDEX sfn_executions_map_run ON sfn_executions (map_run, map_index)
    WHERE map_run IS NOT NULL;

-- a map run is redriven with its parent (RedriveExecution): the same
-- row, RUNNING again, its children that did not succeed redriven
ALTER TABLE sfn_map_runs
    ADD COLUMN processor text,
    ADD COLUMN child_type text,
    ADD COLUMN redrive_count int NOT NULL DEFAULT 0,
    ADD COLUMN redrive_date timestamptz;


-- The children of p_map_run from item p_from on, p_limit of them, in the
-- columns of the recovery's claim, then the child's index and its end as
-- recorded.  The running ones are claimed for p_owner; if one of them is
-- still leased to another worker nothing is claimed and one row says
-- 'wait' (its lease outlasts its parent's by a renewal at most).  Of a
-- redriven map run, those that ended FAILED, TIMED_OUT or ABORTED before
-- its redrive are redriven as RedriveExecution does (sql/010), with the
-- point each goes on from.

CREATE FUNCTION sfn_map_run_children(p_map_run text, p_from bigint,
    p_limit int, p_owner text, p_lease interval)
RETURNS TABLE (name text, state_machine text, input text, start_ms bigint,
               job text, snapshot text, m_arn text, m_type text,
               m_key text, m_def text, arn text, trace text,
               version_arn text, alias_arn text, redrive_count int,
               state text, state_input text, event_id bigint,
               outcome text, redrive_ms bigint, mock_test_case text,
               map_index bigint, status text, output text, error text,
               cause text, stop_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    arns    text[];
    redo    text[];
    def     text;
    since   timestamptz;
BEGIN
    SELECT array_agg(w.arn) INTO arns FROM (
        SELECT x.arn FROM sfn_executions x
        WHERE x.map_run = p_map_run AND x.map_index >= p_from
        ORDER BY x.map_index LIMIT p_limit FOR UPDATE) w;

    IF EXISTS (SELECT 1 FROM sfn_executions x
               WHERE x.arn = ANY (arns) AND x.status = 'RUNNING'
               AND x.lease_until >= now()
               AND x.owner IS DISTINCT FROM p_owner)
    THEN
        RETURN QUERY SELECT NULL::text, NULL::text, NULL::text,
            NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text,
            NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
            NULL::text, NULL::int, NULL::text, NULL::text, NULL::bigint,
            'wait'::text, NULL::bigint, NULL::text, NULL::bigint,
            NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    UPDATE sfn_executions x SET owner = p_owner,
        lease_until = now() + p_lease, version = x.version + 1
    WHERE x.arn = ANY (arns) AND x.status = 'RUNNING';

    SELECT m.processor, m.redrive_date INTO def, since
    FROM sfn_map_runs m WHERE m.arn = p_map_run;

    SELECT array_agg(x.arn) INTO redo FROM sfn_executions x
    WHERE x.arn = ANY (arns) AND x.stop_date < since
    AND sfn_redrive_refusal(x.type, x.status, x.stop_date,
                            x.redrive_count) IS NULL;

    IF redo IS NULL THEN
        RETURN QUERY
        SELECT x.name, x.state_machine, x.input,
            (extract(epoch FROM x.start_date) * 1000)::bigint,
            coalesce(x.job_id, ''), coalesce(x.snapshot, ''), NULL::text,
            NULL::text, NULL::text, NULL::text, x.arn, x.trace_header,
            x.version_arn, x.alias_arn, x.redrive_count, NULL::text,
            NULL::text, NULL::bigint, NULL::text,
            (extract(epoch FROM x.redrive_date) * 1000)::bigint,
            x.mock_test_case, x.map_index, x.status, x.output, x.error,
            x.cause, (extract(epoch FROM x.stop_date) * 1000)::bigint
        FROM sfn_executions x
        WHERE x.arn = ANY (arns)
        ORDER BY x.map_index;
        RETURN;
    END IF;

    INSERT INTO sfn_history AS h (execution_arn, id, previous_id, type,
                                  ts, details, start_date)
    SELECT x.arn, u.id, u.previous_id, u.type, u.ts, u.details,
           x.start_date
    FROM sfn_executions x, sfn_history_unpack(x.history) u
    WHERE x.arn = ANY (redo) AND x.history IS NOT NULL
    ON CONFLICT DO NOTHING;

    UPDATE sfn_executions x SET status = 'RUNNING', stop_date = NULL,
        output = NULL, error = NULL, cause = NULL, history = NULL,
        snapshot = NULL, current_state = NULL,
        redrive_count = x.redrive_count + 1, redrive_date = now(),
        owner = p_owner, lease_until = now() + p_lease,
        version = x.version + 1
    WHERE x.arn = ANY (redo);

    RETURN QUERY
    SELECT x.name, x.state_machine, x.input,
        (extract(epoch FROM x.start_date) * 1000)::bigint,
        coalesce(x.job_id, ''), coalesce(x.snapshot, ''), NULL::text,
        NULL::text, NULL::text, NULL::text, x.arn, x.trace_header,
        x.version_arn, x.alias_arn, x.redrive_count, p.state, p.input,
        p.event_id, NULL::text,
        (extract(epoch FROM x.redrive_date) * 1000)::bigint,
        x.mock_test_case, x.map_index, x.status, x.output, x.error,
        x.cause, (extract(epoch FROM x.stop_date) * 1000)::bigint
    FROM sfn_executions x
    LEFT JOIN LATERAL sfn_redrive_point(x.arn, def,
        sfn_redrive_before(x.arn, x.redrive_count)) p
        ON x.arn = ANY (redo)
    WHERE x.arn = ANY (arns)
    ORDER BY x.map_index;
END
$$;


-- RedriveExecution of a parent: its last map run that ended FAILED or
-- ABORTED with Standard children, which it redrives as it enters that
-- Map state again, and the redrive count that map run will have

CREATE FUNCTION sfn_map_run_to_redrive(p_execution text)
RETURNS TABLE (arn text, redrive_count int)
LANGUAGE sql STABLE AS $$
    SELECT m.arn, m.redrive_count + 1 FROM sfn_map_runs m
    WHERE m.execution_arn = p_execution
    AND m.status IN ('FAILED', 'ABORTED') AND m.child_type = 'STANDARD'
    ORDER BY m.started_at DESC LIMIT 1
$$;
