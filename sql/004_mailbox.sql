-- ngx_sfn schema, version 4: stops and task callbacks for executions that
-- run in another worker or on another node.
--
-- A request that reaches a worker which does not run the execution posts
-- a row in sfn_mailbox and wakes the owner with NOTIFY sfn_mail, the
-- payload being the owner's name (host:pid).  The owner applies the mail
-- and deletes it with the step it caused, so a worker that dies in between
-- leaves the mail to the worker that takes its executions over.  The
-- NOTIFY goes in a transaction of its own, never in a transition's.

CREATE TABLE sfn_mailbox (
    id              bigserial PRIMARY KEY,
    execution_arn   text NOT NULL,
    kind            int NOT NULL,   -- 1 stop, 2 success, 3 failure, 4 beat
    task            bigint NOT NULL DEFAULT 0,
    a               text,           -- error, or the task's output
    b               text,           -- cause
    posted          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sfn_mailbox_execution ON sfn_mailbox (execution_arn);

-- the task tokens of Standard executions, so that any node can answer
-- SendTaskSuccess/Failure/Heartbeat; closed once the task is answered,
-- timed out or its execution ended
CREATE TABLE sfn_tokens (
    token           text PRIMARY KEY,
    execution_arn   text NOT NULL,
    task            bigint NOT NULL,
    closed          boolean NOT NULL DEFAULT false
);

CREATE INDEX sfn_tokens_execution ON sfn_tokens (execution_arn);

-- posts mail for a running execution; false if it is not running
CREATE FUNCTION sfn_mail_post(p_arn text, p_kind int, p_task bigint,
    p_a text, p_b text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_owner text;
BEGIN
    SELECT owner INTO v_owner FROM sfn_executions
        WHERE arn = p_arn AND status = 'RUNNING';

    IF NOT FOUND THEN
        RETURN false;
    END IF;

    INSERT INTO sfn_mailbox (execution_arn, kind, task, a, b)
        VALUES (p_arn, p_kind, p_task, p_a, p_b);

    -- no owner (its lease ran out): the next to claim it reads the mail
    PERFORM pg_notify('sfn_mail', coalesce(v_owner, ''));

    RETURN true;
END
$$;

-- a task callback by token: 'ok', 'closed' (answered, timed out, its
-- execution ended) or 'unknown'; a heartbeat leaves the token open
CREATE FUNCTION sfn_token_answer(p_token text, p_kind int, p_a text,
    p_b text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t sfn_tokens%ROWTYPE;
BEGIN
    SELECT * INTO t FROM sfn_tokens WHERE token = p_token FOR UPDATE;

    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;

    IF t.closed THEN
        RETURN 'closed';
    END IF;

    IF p_kind <> 4 THEN
        UPDATE sfn_tokens SET closed = true WHERE token = p_token;
    END IF;

    IF NOT sfn_mail_post(t.execution_arn, p_kind, t.task, p_a, p_b) THEN
        UPDATE sfn_tokens SET closed = true WHERE token = p_token;
        RETURN 'closed';
    END IF;

    RETURN 'ok';
END
$$;
