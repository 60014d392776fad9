-- ngx_sfn schema, version 5: history that grows with the distinct data.
--
-- A string of an event's details of 1 KiB or more (an input, an output,
-- parameters...) is kept once per execution in sfn_payloads, keyed by the
-- SHA-1 of its text in hex, and the event holds {"sfn_payload": "<hex>"}
-- in its place; AWS has a string there, so the two cannot be confused.  A
-- loop that carries the same 200 KB through thousands of events stores it
-- once.  sfn_history_details() gives the details back as written, or
-- without their input and output for GetExecutionHistory's
-- includeExecutionData false.

CREATE TABLE sfn_payloads (
    execution_arn   text NOT NULL REFERENCES sfn_executions (arn)
                        ON DELETE CASCADE,
    hash            text NOT NULL,
    body            text NOT NULL,
    PRIMARY KEY (execution_arn, hash)
);

-- details are {"<type>EventDetails": {...}}: references are one level in
CREATE FUNCTION sfn_history_details(p_arn text, p_details jsonb,
    p_data boolean)
RETURNS jsonb
LANGUAGE sql STABLE STRICT AS $$
    SELECT CASE WHEN jsonb_typeof(p_details) <> 'object' THEN p_details
    WHEN NOT p_data
    THEN coalesce((SELECT jsonb_object_agg(o.key,
                          CASE WHEN jsonb_typeof(o.value) = 'object'
                          THEN o.value - 'input' - 'output'
                          ELSE o.value END)
                   FROM jsonb_each(p_details) o), p_details)
    WHEN strpos(p_details::text, '"sfn_payload"') = 0
    THEN p_details
    ELSE (SELECT jsonb_object_agg(o.key,
                 CASE WHEN jsonb_typeof(o.value) <> 'object' THEN o.value
                 ELSE coalesce((
                     SELECT jsonb_object_agg(i.key,
                         CASE WHEN jsonb_typeof(i.value) = 'object'
                              AND i.value ? 'sfn_payload'
                         THEN coalesce((
                             SELECT to_jsonb(p.body) FROM sfn_payloads p
                             WHERE p.execution_arn = p_arn
                             AND p.hash = i.value ->> 'sfn_payload'),
                             i.value)
                         ELSE i.value END)
                     FROM jsonb_each(o.value) i), '{}'::jsonb) END)
          FROM jsonb_each(p_details) o)
    END
$$;
