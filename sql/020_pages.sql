-- ngx_sfn schema, version 20: a page of executions planned once, at any
-- size of the store.
--
-- PostgreSQL plans a prepared statement for its parameters five times,
-- then keeps its generic plan if that plan's estimated cost is no more
-- than theirs.  ListExecutions' page (sql/006) is a LIMIT $n over ranges
-- of an index: with the limit unknown, the generic plan is costed as if a
-- tenth of each range were read, a cost that grows with the table; at a
-- million executions it never wins, and every page was planned again.
-- Over the partitions of sql/018 (five ranges, each over every partition)
-- that planning took 1.5 to 2 ms a page where reading it took 0.6, and
-- it grows with the partitions.  The generic plan reads the same rows as
-- the custom one (the index, backwards from the cursor, a one-time filter
-- for a status not asked for), so the page is read by a PL/pgSQL function
-- that keeps it: its statement is prepared once per session, on the
-- generic plan whatever the estimates.
--
-- Each range also says start_date <= the cursor's start date (implied by
-- the cursor's row comparison, which partition pruning does not read): a
-- partition that starts after the cursor is pruned when the plan starts,
-- so a page after the first opens the partitions at and before it only.


-- the executions of p_machine with p_status and the filters, before the
-- cursor (p_ts, p_name), newest first, p_limit of them: one range of
-- sfn_executions_page per partition, read backwards; inlined where it is
-- called, p_status a constant there
CREATE FUNCTION sfn_executions_range(p_status text, p_machine text,
    p_statuses text[], p_ts timestamptz, p_name text, p_limit bigint,
    p_qualifier text, p_redrive text)
RETURNS TABLE (arn text, name text, status text, start_date timestamptz,
               stop_date timestamptz, version_arn text, alias_arn text,
               redrive_count int, redrive_date timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT y.arn, y.name, y.status, y.start_date, y.stop_date,
        y.version_arn, y.alias_arn, y.redrive_count, y.redrive_date
    FROM sfn_executions y
    WHERE y.state_machine = p_machine AND y.status = p_status
    AND p_status = ANY (p_statuses)
    AND (p_qualifier IS NULL OR y.version_arn = p_qualifier
         OR y.alias_arn = p_qualifier)
    AND (p_redrive IS NULL
         OR (p_redrive = 'REDRIVEN') = (y.redrive_count > 0))
    AND y.start_date <= p_ts
    AND (y.start_date, y.name) < (p_ts, p_name)
    ORDER BY y.start_date DESC, y.name DESC LIMIT p_limit
$$;


-- A page of ListExecutions (ngx_http_sfn_aws_exec.c): the executions of
-- p_machine whose status is in p_statuses, after the cursor (p_after_us,
-- microseconds since the epoch, and p_after_name; NULL for the first
-- page), p_limit of them, newest first; p_qualifier a version's or an
-- alias's ARN, p_redrive 'REDRIVEN' or 'NOT_REDRIVEN', NULL for any.  One
-- range per status, merged: a Merge Append that reads about a page.
CREATE FUNCTION sfn_executions_list(p_machine text, p_statuses text[],
    p_after_us bigint, p_after_name text, p_limit bigint, p_qualifier text,
    p_redrive text)
RETURNS TABLE (arn text, name text, status text, start_date timestamptz,
               stop_date timestamptz, version_arn text, alias_arn text,
               redrive_count int, redrive_date timestamptz)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    v_ts    timestamptz := coalesce(timestamptz 'epoch'
                                    + p_after_us * interval '1 microsecond',
                                    'infinity');
    v_name  text := coalesce(p_after_name, '');
BEGIN
    RETURN QUERY
    SELECT x.* FROM (
        SELECT * FROM sfn_executions_range('RUNNING', p_machine,
            p_statuses, v_ts, v_name, p_limit, p_qualifier, p_redrive)
        UNION ALL
        SELECT * FROM sfn_executions_range('SUCCEEDED', p_machine,
            p_statuses, v_ts, v_name, p_limit, p_qualifier, p_redrive)
        UNION ALL
        SELECT * FROM sfn_executions_range('FAILED', p_machine,
            p_statuses, v_ts, v_name, p_limit, p_qualifier, p_redrive)
        UNION ALL
        SELECT * FROM sfn_executions_range('TIMED_OUT', p_machine,
            p_statuses, v_ts, v_name, p_limit, p_qualifier, p_redrive)
        UNION ALL
        SELECT * FROM sfn_executions_range('ABORTED', p_machine,
            p_statuses, v_ts, v_name, p_limit, p_qualifier, p_redrive)) x
    ORDER BY x.start_date DESC, x.name DESC LIMIT p_limit;
END
$$;
