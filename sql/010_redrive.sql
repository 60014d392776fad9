-- ngx_sfn schema, version 10: RedriveExecution.
--
-- A Standard execution that ended FAILED, TIMED_OUT or ABORTED less than
-- 14 days ago, redriven fewer than 1000 times, runs again from the
-- top-level state that ended it, with the input that state was entered
-- with; its history goes on (ExecutionRedriven, then the state entered
-- again).  A packed history (sql/006) is unpacked into rows first, so
-- that the end packs the whole of it again.

ALTER TABLE sfn_executions
    ADD COLUMN redrive_count int NOT NULL DEFAULT 0,
    ADD COLUMN redrive_date timestamptz,
    ADD COLUMN redrive_token text;


-- why an execution cannot be redriven now, or NULL if it can

CREATE FUNCTION sfn_redrive_refusal(p_type text, p_status text,
    p_stop timestamptz, p_count int)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p_type <> 'STANDARD'
        THEN 'Express executions cannot be redriven'
        WHEN p_status NOT IN ('FAILED', 'TIMED_OUT', 'ABORTED')
        THEN 'Execution is ' || p_status
        WHEN p_stop < now() - interval '14 days'
        THEN 'Execution ended more than 14 days ago'
        WHEN p_count >= 1000
        THEN 'Execution has been redriven 1000 times'
    END
$$;


-- where it goes on from: the last top-level state entered before event
-- p_before (the names of the definition's States), its raw input, and
-- the id of the last event kept; the definition's StartAt and the
-- execution's input if no state was entered

CREATE FUNCTION sfn_redrive_point(p_arn text, p_definition text,
    p_before bigint)
RETURNS TABLE (state text, input text, event_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(s.name, d.def ->> 'StartAt'),
           coalesce(s.input, (SELECT x.input FROM sfn_executions x
                              WHERE x.arn = p_arn)),
           p_before - 1
    FROM (SELECT p_definition::jsonb AS def) d
    LEFT JOIN LATERAL (
        SELECT h.details -> 'stateEnteredEventDetails' ->> 'name' AS name,
               sfn_history_details(p_arn, h.details, true)
                   -> 'stateEnteredEventDetails' ->> 'input' AS input
        FROM sfn_history h
        WHERE h.execution_arn = p_arn AND h.id < p_before
        AND h.type LIKE '%StateEntered'
        AND (d.def -> 'States') ? (h.details -> 'stateEnteredEventDetails'
                                   ->> 'name')
        ORDER BY h.id DESC LIMIT 1) s ON true
$$;


-- the event before which a redrive (p_count of them so far) goes on: its
-- ExecutionRedriven if recorded, else after the last event

CREATE FUNCTION sfn_redrive_before(p_arn text, p_count int)
RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN (SELECT count(*) FROM sfn_history
                      WHERE execution_arn = p_arn
                      AND type = 'ExecutionRedriven') >= p_count
           THEN (SELECT max(id) FROM sfn_history
                 WHERE execution_arn = p_arn AND type = 'ExecutionRedriven')
           ELSE (SELECT coalesce(max(id), 0) + 1 FROM sfn_history
                 WHERE execution_arn = p_arn)
           END
$$;


-- RedriveExecution: the execution RUNNING again, owned by p_owner, in
-- the columns of the recovery's claim (ngx_http_sfn_lease.c), then the
-- outcome ('ok', 'again': the redrive of p_token already made, 'missing',
-- or why it cannot be redriven) and the date, in milliseconds as
-- DescribeExecution tells it.

CREATE FUNCTION sfn_execution_redrive(p_arn text, p_owner text,
    p_lease interval, p_token text)
RETURNS TABLE (name text, state_machine text, input text, start_ms bigint,
               job text, snapshot text, m_arn text, m_type text,
               m_key text, m_def text, arn text, trace text,
               version_arn text, alias_arn text, redrive_count int,
               state text, state_input text, event_id bigint,
               outcome text, redrive_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    x       sfn_executions%ROWTYPE;
    why     text;
BEGIN
    SELECT * INTO x FROM sfn_executions e WHERE e.arn = p_arn FOR UPDATE;

    IF NOT FOUND THEN
        why := 'missing';
    ELSIF p_token IS NOT NULL AND p_token = x.redrive_token THEN
        why := 'again';
    ELSE
        why := sfn_redrive_refusal(x.type, x.status, x.stop_date,
                                   x.redrive_count);

        IF why IS NULL AND NOT EXISTS (
            SELECT 1 FROM sfn_redrive_machine(x.state_machine, x.version_arn))
        THEN
            why := 'State machine ' || x.state_machine || ' does not exist';
        END IF;
    END IF;

    IF why IS NOT NULL THEN
        RETURN QUERY SELECT NULL::text, NULL::text, NULL::text,
            NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text,
            NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
            NULL::text, NULL::int, NULL::text, NULL::text, NULL::bigint,
            why, (extract(epoch FROM x.redrive_date) * 1000)::bigint;
        RETURN;
    END IF;

    IF x.history IS NOT NULL THEN
        INSERT INTO sfn_history AS h (execution_arn, id, previous_id, type,
                                      ts, details)
        SELECT p_arn, u.id, u.previous_id, u.type, u.ts, u.details
        FROM sfn_history_unpack(x.history) u
        ON CONFLICT DO NOTHING;
    END IF;

    -- its job runs again too: the end of the run records its status
    IF x.job_id IS NOT NULL THEN
        UPDATE sfn_jobs SET status = 'RUNNING', updated_at = now()
        WHERE job_id = x.job_id;
    END IF;

    UPDATE sfn_executions e SET status = 'RUNNING', stop_date = NULL,
        output = NULL, error = NULL, cause = NULL, history = NULL,
        snapshot = NULL, current_state = NULL,
        redrive_count = e.redrive_count + 1,
        redrive_date = now(), redrive_token = p_token, owner = p_owner,
        lease_until = now() + p_lease, version = e.version + 1
    WHERE e.arn = p_arn RETURNING * INTO x;

    RETURN QUERY
    SELECT x.name, x.state_machine, x.input,
        (extract(epoch FROM x.start_date) * 1000)::bigint,
        coalesce(x.job_id, ''), ''::text, m.arn, m.type, m.key, m.def,
        x.arn, x.trace_header, x.version_arn, x.alias_arn, x.redrive_count,
        p.state, p.input, p.event_id, 'ok'::text,
        (extract(epoch FROM x.redrive_date) * 1000)::bigint
    FROM sfn_redrive_machine(x.state_machine, x.version_arn) m,
         sfn_redrive_point(p_arn, m.def,
                           sfn_redrive_before(p_arn, x.redrive_count)) p;
END
$$;


-- the definition a redriven execution runs: its version's, else its state
-- machine's, with the key of its compiled copy as the recovery has it (an
-- nginx.conf machine's is nginx.conf's: its row has the definition, for
-- the names of its states)

CREATE FUNCTION sfn_redrive_machine(p_name text, p_version text)
RETURNS TABLE (arn text, type text, key text, def text)
LANGUAGE sql STABLE AS $$
    SELECT m.arn, coalesce(v.type, m.type),
           CASE WHEN v.arn IS NOT NULL
           THEN extract(epoch FROM v.created_at)::text
           WHEN m.source = 'api' THEN m.revision::text || '/'
                || extract(epoch FROM m.updated_at)::text END,
           coalesce(v.definition, m.definition)
    FROM sfn_state_machines m
    LEFT JOIN sfn_versions v ON v.arn = p_version
    WHERE m.name = p_name
$$;
