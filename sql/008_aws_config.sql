-- ngx_sfn schema, version 8: the configurations of a state machine created
-- through the AWS API, as CreateStateMachine and UpdateStateMachine gave
-- them (checked against the AWS model, its defaults filled in), described
-- back by DescribeStateMachine.  NULL: never given, described with AWS's
-- defaults (logging OFF, tracing disabled, no encryption configuration).
--
-- Version 8 is left to a concurrent change of the schema.

ALTER TABLE sfn_state_machines
    ADD COLUMN logging_configuration jsonb,
    ADD COLUMN tracing_configuration jsonb,
    ADD COLUMN encryption_configuration jsonb;

-- StartExecution's traceHeader, described back by DescribeExecution
ALTER TABLE sfn_executions ADD COLUMN trace_header text;
