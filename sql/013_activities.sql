-- ngx_sfn schema, version 13: activities (CreateActivity, GetActivityTask).
--
-- An activity is a name and an ARN; a Task state whose Resource is its ARN
-- queues a row in sfn_activity_tasks, keyed by the task's token (which is
-- also in sfn_tokens, so SendTask* answers it as any token).  The row goes
-- in with the step that scheduled it; once that has committed, NOTIFY
-- sfn_activity (the payload is the activity's ARN) wakes the pollers of
-- every worker of every node.  A poll takes the oldest queued task with
-- FOR UPDATE SKIP LOCKED, so two pollers never get the same one, and mails
-- the execution's owner that it started (kind 5, the worker's name in a).
-- A task taken for a poll that went away before its reply was written is
-- put back; one whose reply was written and never answered is the
-- worker's, as in AWS: TimeoutSeconds and HeartbeatSeconds end it.  The
-- row is deleted when the task ends, whichever way.

CREATE TABLE sfn_activities (
    name            text PRIMARY KEY,
    arn             text NOT NULL UNIQUE,
    tags            jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sfn_activity_tasks (
    token           text PRIMARY KEY,
    activity        text NOT NULL,  -- its ARN
    execution_arn   text NOT NULL,
    task            bigint NOT NULL,
    input           text NOT NULL,
    scheduled       timestamptz NOT NULL DEFAULT now(),
    worker          text,
    started         timestamptz     -- NULL while queued
);

-- the queue of an activity, oldest first
CREATE INDEX sfn_activity_tasks_queued
    ON sfn_activity_tasks (activity, scheduled, token)
    WHERE started IS NULL;

CREATE INDEX sfn_activity_tasks_execution
    ON sfn_activity_tasks (execution_arn);


-- queues a task; false if its activity does not exist (a row already
-- there, a recovered execution scheduling again, is kept as it is)
CREATE FUNCTION sfn_activity_enqueue(p_token text, p_activity text,
    p_arn text, p_task bigint, p_input text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sfn_activities WHERE arn = p_activity) THEN
        RETURN false;
    END IF;

    INSERT INTO sfn_activity_tasks (token, activity, execution_arn, task,
                                    input)
        VALUES (p_token, p_activity, p_arn, p_task, p_input)
        ON CONFLICT (token) DO NOTHING;

    RETURN true;
END
$$;


-- GetActivityTask: the oldest queued task of the activity, taken for the
-- worker; known is false if the activity does not exist, token NULL if
-- nothing is queued.  A task whose execution has ended is dropped.
CREATE FUNCTION sfn_activity_claim(p_activity text, p_worker text,
    OUT known boolean, OUT token text, OUT input text)
LANGUAGE plpgsql AS $$
DECLARE
    t sfn_activity_tasks%ROWTYPE;
BEGIN
    known := EXISTS (SELECT 1 FROM sfn_activities WHERE arn = p_activity);

    IF NOT known THEN
        RETURN;
    END IF;

    LOOP
        SELECT * INTO t FROM sfn_activity_tasks a
            WHERE a.activity = p_activity AND a.started IS NULL
            ORDER BY a.scheduled, a.token
            LIMIT 1 FOR UPDATE SKIP LOCKED;

        IF NOT FOUND THEN
            RETURN;
        END IF;

        IF EXISTS (SELECT 1 FROM sfn_tokens k
                   WHERE k.token = t.token AND NOT k.closed)
           AND sfn_mail_post(t.execution_arn, 5, t.task, p_worker, NULL)
        THEN
            UPDATE sfn_activity_tasks
                SET started = now(), worker = p_worker
                WHERE sfn_activity_tasks.token = t.token;

            token := t.token;
            input := t.input;
            RETURN;
        END IF;

        DELETE FROM sfn_activity_tasks WHERE sfn_activity_tasks.token = t.token;
    END LOOP;
END
$$;


-- a task taken for a poll whose reply could not be written: queued again
CREATE FUNCTION sfn_activity_requeue(p_token text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_activity text;
BEGIN
    UPDATE sfn_activity_tasks SET started = NULL, worker = NULL
        WHERE token = p_token
        RETURNING activity INTO v_activity;

    IF FOUND THEN
        PERFORM pg_notify('sfn_activity', v_activity);
    END IF;
END
$$;
