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

ALTER TABLE sfn_map_runs
    ADD COLUMN processor text,
    ADD COLUMN child_type text;


-- The children of p_map_run from item p_from on, p_limit of them, in the
-- columns of the recovery's claim, then the child's index and its end as
-- recorded.  The running ones are claimed for p_owner; if one of them is
-- still leased to another worker nothing is claimed and one row says
-- 'wait' (its lease outlasts its parent's by a renewal at most).

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
END
$$;
