-- ngx_sfn schema, version 1.
--
-- Applied by the module at start under an advisory lock; sfn_migrations
-- records what has been applied.  Every table is keyed so several nginx
-- nodes can share one database: executions carry an owner, a lease and a
-- version (fencing token) from the start.

CREATE TABLE sfn_state_machines (
    name            text PRIMARY KEY,
    arn             text NOT NULL UNIQUE,
    type            text NOT NULL CHECK (type IN ('STANDARD', 'EXPRESS')),
    definition      text NOT NULL,
    source          text NOT NULL DEFAULT 'config',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sfn_executions (
    arn             text PRIMARY KEY,
    name            text NOT NULL,
    state_machine   text NOT NULL,
    type            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED',
                        'FAILED', 'TIMED_OUT', 'ABORTED')),
    current_state   text,
    input           text NOT NULL,
    output          text,
    error           text,
    cause           text,
    start_date      timestamptz NOT NULL,
    stop_date       timestamptz,
    version         bigint NOT NULL DEFAULT 0,
    owner           text,
    lease_until     timestamptz,
    snapshot        text,
    UNIQUE (state_machine, name)
);

CREATE INDEX sfn_executions_list
    ON sfn_executions (state_machine, status, start_date DESC);

CREATE INDEX sfn_executions_lease
    ON sfn_executions (lease_until) WHERE status = 'RUNNING';

-- one row per history event: every state transition of an execution
CREATE TABLE sfn_history (
    execution_arn   text NOT NULL REFERENCES sfn_executions (arn)
                        ON DELETE CASCADE,
    id              bigint NOT NULL,
    previous_id     bigint NOT NULL,
    type            text NOT NULL,
    ts              timestamptz NOT NULL,
    details         jsonb,
    PRIMARY KEY (execution_arn, id)
);

-- the job table of the video workflow (DynamoDB's VideoJobs analogue)
CREATE TABLE sfn_jobs (
    job_id          text PRIMARY KEY,
    execution_arn   text,
    state_machine   text,
    bucket          text,
    key             text,
    status          text NOT NULL,
    attributes      jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sfn_jobs_execution ON sfn_jobs (execution_arn);
