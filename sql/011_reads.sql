-- ngx_sfn schema, version 11: reads planned once.
--
-- The API's frequent reads are statements prepared once per connection
-- (ngx_http_sfn_pg.c) on a generic plan; a SQL function that the planner
-- cannot inline into them is planned again at every execution, for each
-- statement that calls it.  sfn_history_unpack() is inlined once it is
-- not STRICT: a NULL history decodes to NULL, of which
-- jsonb_array_elements() gives no row, as before.  sfn_history_details()
-- holds sub-selects, which are never inlined: in PL/pgSQL its statements
-- are planned once per session and its tests are simple expressions.

ALTER FUNCTION sfn_history_unpack(text) CALLED ON NULL INPUT;

CREATE OR REPLACE FUNCTION sfn_history_details(p_arn text, p_details jsonb,
    p_data boolean)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT AS $$
BEGIN
    IF jsonb_typeof(p_details) <> 'object' THEN
        RETURN p_details;
    END IF;

    IF NOT p_data THEN
        RETURN coalesce((SELECT jsonb_object_agg(o.key,
                                CASE WHEN jsonb_typeof(o.value) = 'object'
                                THEN o.value - 'input' - 'output'
                                ELSE o.value END)
                         FROM jsonb_each(p_details) o), p_details);
    END IF;

    IF strpos(p_details::text, '"sfn_payload"') = 0 THEN
        RETURN p_details;
    END IF;

    RETURN (SELECT jsonb_object_agg(o.key,
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
            FROM jsonb_each(p_details) o);
END
$$;
