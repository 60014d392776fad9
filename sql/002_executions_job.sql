-- the job an execution works for, so a resumed execution keeps its job row

ALTER TABLE sfn_executions ADD COLUMN job_id text;
