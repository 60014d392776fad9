-- ngx_sfn schema, version 16: map runs (a distributed Map's children).
--
-- A map run is owned by the worker that runs its parent execution; its
-- row is written when it starts, its counts every second and when it
-- ends (itemCounts as DescribeMapRun gives them; the children are one
-- item each, or one batch), and UpdateMapRun changes its limits here:
-- the owner reads them back with each write of the counts.  The progress
-- lets a map run whose worker died go on where its parent is restored.

CREATE TABLE sfn_map_runs (
    arn                 text PRIMARY KEY,
    execution_arn       text NOT NULL,
    state_machine_arn   text NOT NULL,
    task                bigint NOT NULL,    -- the engine's id of the wait
    label               text NOT NULL,
    status              text NOT NULL DEFAULT 'RUNNING',
    started_at          timestamptz NOT NULL DEFAULT now(),
    stopped_at          timestamptz,
    max_concurrency     integer NOT NULL,
    tolerated_count     bigint NOT NULL,    -- -1: not set
    tolerated_pct       double precision NOT NULL,
    counts              jsonb NOT NULL DEFAULT '{}',
    -- what is done, in item order, when the counts were written: the
    -- items before "base" ended and their results are written (in the
    -- files, of the sizes given, or in "out"); a new owner goes on from
    -- there, the children after it started again
    progress            jsonb
);

-- ListMapRuns: an execution's, oldest first
CREATE INDEX sfn_map_runs_execution
    ON sfn_map_runs (execution_arn, started_at, arn);
