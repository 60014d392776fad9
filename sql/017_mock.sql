-- ngx_sfn schema, version 17: mocked executions (sfn_mock_config).
--
-- A StartExecution whose state machine ARN ends in "#TestCase" runs that
-- test case of the mock configuration: its name is kept with the
-- execution, so that a worker resuming it (its last step, or its input)
-- and a redrive mock the same states.  NULL: an execution of real tasks.

ALTER TABLE sfn_executions ADD COLUMN mock_test_case text;
