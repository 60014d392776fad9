-- ngx_sfn schema, version 18: retention drops whole partitions.
--
-- Deleted rows leave their space in the files (sql/015): a plain VACUUM
-- gives back only the empty end of a file, and the oldest rows come
-- first.  So sfn_executions, sfn_history and sfn_payloads (all but a few
-- per cent of the store) are partitioned by the execution's start date,
-- the same ranges in the three; the history and payload rows carry their
-- execution's start_date.  An execution's rows all sit in the partitions
-- of one range, so a range whose executions have all expired goes whole:
-- detached and dropped, its files unlinked.
--
-- Ranges are made ahead of the starts by the sweeper, a period each
-- (p_keep / 8, a minute at least), when the last one ends within a
-- period; the DEFAULT partitions take what no range does (what was
-- written while retention was off, a range not made in time), so no
-- start ever lacks a partition.  Attaching a range while a default
-- exists scans the default under a lock that stops every read of it,
-- unless a constraint of the default already keeps the range's values
-- out; so, one step a call of sfn_retention_sweep(), each a transaction
-- of its own, under the sweep's advisory lock:
--
--   1. the range's three tables are made, with their indexes ('next');
--   2. each default gets CHECK (start_date < lo OR start_date >= hi)
--      NOT VALID ('checking'): lo is a minute ahead, no start is refused;
--   3. the constraints are validated, a scan under a lock that stops
--      nothing ('valid');
--   4. each table is attached, one a call, and its default's constraint
--      dropped: catalog work under the lock ('sealed' once all three).
--
-- A range is undone if lo comes within 15 s before it is attached
-- whole (its tables are empty then).  A range that has ended and none
-- of whose executions is running or stopped within p_keep is detached
-- under a lock of the three tables ('detached'), then dropped with its
-- tokens and mail ('dropped').  Every lock that stops reads is asked
-- for with a lock_timeout of 10 ms and held for catalog work only; a
-- step that does not get it is tried again a second later.  A range
-- that holds a kept execution (running, redriven, stopped lately) stays,
-- its expired executions deleted row by row, as before, as are those of
-- the defaults; it goes when the last of them expires.
--
-- The rows there before this version become the range [-infinity, the
-- migration's time) "old"; their history and payload rows get the start
-- date -infinity (no rewrite), which is within it.  The writer gives
-- every new row its execution's start date; -infinity is the default of
-- a row written by hand.  A unique key of a partitioned table holds the
-- partition key: (state_machine, name, start_date) for executions, which
-- still makes a statement the writer sends again do nothing.

CREATE TABLE sfn_partitions (
    name        text PRIMARY KEY,   -- sfn_executions_<name>, ...
    lo          timestamptz NOT NULL,
    hi          timestamptz NOT NULL,
    attached    int NOT NULL DEFAULT 0, -- tables attached, in order
    state       text NOT NULL DEFAULT 'sealed'
                    CHECK (state IN ('next', 'checking', 'valid',
                                     'sealed', 'detached', 'dropped',
                                     'undone'))
);

-- the tables, in the order they are locked
CREATE FUNCTION sfn_partitioned() RETURNS text[]
LANGUAGE sql IMMUTABLE AS
    $$SELECT ARRAY['sfn_executions', 'sfn_history', 'sfn_payloads']$$;

-- sql/006's view, made again on the partitioned tables below
DROP VIEW sfn_events;

DO $$
DECLARE
    v_t0    timestamptz := now();
    t       text;
    i       record;
    defs    text[];
    d       text;
BEGIN
    ALTER TABLE sfn_history ADD COLUMN start_date timestamptz NOT NULL
        DEFAULT '-infinity';
    ALTER TABLE sfn_payloads ADD COLUMN start_date timestamptz NOT NULL
        DEFAULT '-infinity';

    DROP TRIGGER sfn_executions_gone ON sfn_executions;

    FOREACH t IN ARRAY sfn_partitioned() LOOP

        -- the indexes that back no constraint, made again on the parent
        SELECT coalesce(array_agg(pg_get_indexdef(x.indexrelid)), '{}')
        INTO defs FROM pg_index x
        WHERE x.indrelid = t::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                        WHERE c.conindid = x.indexrelid);

        FOR i IN SELECT c.conname FROM pg_constraint c
                 WHERE c.conrelid = t::regclass AND c.contype IN ('p', 'u')
        LOOP
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I',
                           t, i.conname);
        END LOOP;

        FOR i IN SELECT c.relname FROM pg_index x
                 JOIN pg_class c ON c.oid = x.indexrelid
                 WHERE x.indrelid = t::regclass
        LOOP
            EXECUTE format('ALTER INDEX %I RENAME TO %I', i.relname,
                           left(i.relname, 55) || '_old');
        END LOOP;

        EXECUTE format('ALTER TABLE %I RENAME TO %I', t, t || '_old');

        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS '
                       'INCLUDING CONSTRAINTS INCLUDING STORAGE '
                       'INCLUDING COMPRESSION) PARTITION BY RANGE '
                       '(start_date)', t, t || '_old');

        FOREACH d IN ARRAY defs LOOP
            EXECUTE d;
        END LOOP;
    END LOOP;

    ALTER TABLE sfn_executions ADD UNIQUE (state_machine, name, start_date);
    ALTER TABLE sfn_history ADD PRIMARY KEY (execution_arn, id, start_date);
    ALTER TABLE sfn_payloads ADD PRIMARY KEY (execution_arn, hash,
                                              start_date);

    FOREACH t IN ARRAY sfn_partitioned() LOOP
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES '
                       'FROM (MINVALUE) TO (%L)', t, t || '_old', v_t0);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT',
                       t || '_default', t);
    END LOOP;

    INSERT INTO sfn_partitions (name, lo, hi)
        VALUES ('old', '-infinity', v_t0);
END
$$;

CREATE TRIGGER sfn_executions_gone AFTER DELETE ON sfn_executions
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION sfn_executions_gone();

CREATE VIEW sfn_events AS
    SELECT execution_arn, id, previous_id, type, ts, details
    FROM sfn_history
    UNION ALL
    SELECT e.arn, u.id, u.previous_id, u.type, u.ts, u.details
    FROM sfn_executions e, LATERAL sfn_history_unpack(e.history) u
    WHERE e.history IS NOT NULL;


-- a payload by its hash: the rows written before this version have the
-- start date -infinity, a payload written again by an execution that ran
-- across the upgrade its own: either is the same text
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
                               AND p.hash = i.value ->> 'sfn_payload'
                               LIMIT 1),
                               i.value)
                           ELSE i.value END)
                       FROM jsonb_each(o.value) i), '{}'::jsonb) END)
            FROM jsonb_each(p_details) o);
END
$$;


-- each of the three tables, as format() spells a statement on it:
-- %1$I the table, %2$I the partition named p_name
CREATE FUNCTION sfn_partitions_each(p_sql text, p_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY sfn_partitioned() LOOP
        EXECUTE format(p_sql, t, t || '_' || p_name);
    END LOOP;
END
$$;


-- One step of the partitions' upkeep, by the sweeper under its advisory
-- lock, each in a transaction of its own so that no lock that stops reads
-- is held for more than catalog work: a range detached, then dropped; a
-- range made ahead, its defaults' constraints added, validated, its
-- tables attached.  executions and deleted are what a drop took;
-- outcome: 'dropped', 'detached', 'next', 'checking', 'valid',
-- 'attached', 'undone' (a range given up), 'busy' (a lock not had within
-- lock_timeout: tried again a second later), or NULL (nothing to do).
CREATE FUNCTION sfn_partitions_step(p_keep interval, OUT executions bigint,
    OUT deleted bigint, OUT outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    v_period  interval := greatest(p_keep / 8, interval '1 minute');
    v_cutoff  timestamptz := now() - p_keep;
    v_kept    text := 'SELECT NOT EXISTS (SELECT 1 FROM %I '
                      'WHERE status = ''RUNNING'' OR stop_date >= $1)';
    p         sfn_partitions%ROWTYPE;
    v_lo      timestamptz;
    v_since   timestamptz;
    v_gone    boolean;
    n         bigint;
    t         text;
BEGIN
    executions := 0;
    deleted := 0;

    -- a range detached: nothing reads it any more; its tokens and mail
    -- go with it (few: a task's, a stop's)

    SELECT * INTO p FROM sfn_partitions WHERE state = 'detached';

    IF FOUND THEN
        EXECUTE format('DELETE FROM sfn_tokens k USING %I e '
                       'WHERE k.execution_arn = e.arn',
                       'sfn_executions_' || p.name);
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := n;
        EXECUTE format('DELETE FROM sfn_mailbox m USING %I e '
                       'WHERE m.execution_arn = e.arn',
                       'sfn_executions_' || p.name);
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;

        FOREACH t IN ARRAY sfn_partitioned() LOOP
            EXECUTE format('SELECT count(*) FROM %I', t || '_' || p.name)
                INTO n;
            deleted := deleted + n;
            IF t = 'sfn_executions' THEN
                executions := n;
            END IF;
        END LOOP;

        PERFORM sfn_partitions_each('DROP TABLE %2$I', p.name);
        UPDATE sfn_partitions SET state = 'dropped' WHERE name = p.name;
        outcome := 'dropped';
        RETURN;
    END IF;

    -- a range being made ahead: its tables, then a constraint of each
    -- default that keeps the range's starts out of it (refused there from
    -- now on, none come before lo), validated, then each table attached,
    -- one a transaction; undone if lo comes near before it is done

    SELECT * INTO p FROM sfn_partitions
        WHERE state IN ('next', 'checking', 'valid');

    IF FOUND THEN
        BEGIN
            PERFORM set_config('lock_timeout', '10ms', true);

            IF p.lo <= now() + interval '15 seconds' THEN
                RAISE lock_not_available;
            END IF;

            IF p.state = 'next' THEN
                PERFORM sfn_partitions_each(format(
                    'ALTER TABLE %%1$s_default ADD CONSTRAINT %%2$s '
                    'CHECK (start_date < %L OR start_date >= %L) NOT VALID',
                    p.lo, p.hi), p.name);
                UPDATE sfn_partitions SET state = 'checking'
                    WHERE name = p.name;
                outcome := 'checking';
                RETURN;
            END IF;

            IF p.state = 'checking' THEN
                PERFORM set_config('lock_timeout', '0', true);
                PERFORM sfn_partitions_each('ALTER TABLE %1$s_default '
                                            'VALIDATE CONSTRAINT %2$s',
                                            p.name);
                UPDATE sfn_partitions SET state = 'valid'
                    WHERE name = p.name;
                outcome := 'valid';
                RETURN;
            END IF;

            -- no scan of the default: its constraint keeps the range out
            t := (sfn_partitioned())[p.attached + 1];
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I '
                           'FOR VALUES FROM (%L) TO (%L)', t,
                           t || '_' || p.name, p.lo, p.hi);
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I',
                           t || '_default', t || '_' || p.name);
            UPDATE sfn_partitions SET attached = attached + 1,
                state = CASE WHEN attached + 1 = 3 THEN 'sealed'
                        ELSE state END
                WHERE name = p.name;
            outcome := 'attached';
            RETURN;

        EXCEPTION WHEN lock_not_available OR check_violation THEN
            IF SQLSTATE = '55P03' AND p.lo > now() + interval '15 seconds'
            THEN
                outcome := 'busy';
                RETURN;
            END IF;
        END;

        -- undone: the tables attached are empty (lo is ahead), the
        -- defaults take every start again
        BEGIN
            PERFORM set_config('lock_timeout', '10ms', true);
            FOR n IN 1 .. 3 LOOP
                t := (sfn_partitioned())[n];
                IF n <= p.attached THEN
                    EXECUTE format('ALTER TABLE %I DETACH PARTITION %I',
                                   t, t || '_' || p.name);
                ELSIF p.state <> 'next' THEN
                    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I',
                                   t || '_default', t || '_' || p.name);
                END IF;
                EXECUTE format('DROP TABLE %I', t || '_' || p.name);
            END LOOP;
            UPDATE sfn_partitions SET state = 'undone' WHERE name = p.name;
            outcome := 'undone';
        EXCEPTION WHEN lock_not_available THEN
            outcome := 'busy';
        END;

        RETURN;
    END IF;

    -- a range none of whose executions is kept, oldest first, detached
    -- under a lock of the three tables; what started in it meanwhile is
    -- seen under the lock, and keeps it

    FOR p IN SELECT * FROM sfn_partitions
             WHERE state = 'sealed' AND hi <= now() ORDER BY lo
    LOOP
        EXECUTE format(v_kept, 'sfn_executions_' || p.name)
            INTO STRICT v_gone USING v_cutoff;
        CONTINUE WHEN NOT v_gone;

        BEGIN
            PERFORM set_config('lock_timeout', '10ms', true);

            LOCK TABLE ONLY sfn_executions, ONLY sfn_history,
                ONLY sfn_payloads IN ACCESS EXCLUSIVE MODE;

            EXECUTE format(v_kept, 'sfn_executions_' || p.name)
                INTO STRICT v_gone USING v_cutoff;
            CONTINUE WHEN NOT v_gone;

            PERFORM sfn_partitions_each('ALTER TABLE %1$I DETACH PARTITION '
                                        '%2$I', p.name);
            UPDATE sfn_partitions SET state = 'detached'
                WHERE name = p.name;
            outcome := 'detached';

        EXCEPTION WHEN lock_not_available THEN
            outcome := 'busy';
        END;

        RETURN;
    END LOOP;

    -- a range made ahead when the last one ends within a period: from
    -- the end of the last one, or a minute ahead if that is nearer,
    -- for a period; its tables made first, with their indexes, under no
    -- lock but theirs

    SELECT max(hi) INTO v_since FROM sfn_partitions
        WHERE state IN ('sealed', 'detached', 'dropped');

    IF v_since > now() + v_period THEN
        RETURN;
    END IF;

    DELETE FROM sfn_partitions WHERE state = 'undone';

    p.lo := greatest(v_since, now() + interval '1 minute');
    p.hi := p.lo + v_period;
    p.name := to_char(p.lo AT TIME ZONE 'UTC', 'YYYYMMDD"t"HH24MISS');

    FOREACH t IN ARRAY sfn_partitioned() LOOP
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING ALL)',
                       t || '_' || p.name, t);
    END LOOP;

    INSERT INTO sfn_partitions (name, lo, hi, state)
        VALUES (p.name, p.lo, p.hi, 'next');
    outcome := 'next';
END
$$;


-- sql/015's sweep, after a step of the partitions' upkeep: the rows left
-- are those of the ranges that hold a kept execution, and of the
-- defaults.  dropped: the executions and rows counted went with a range
-- (no VACUUM is owed for them); a step that found a lock taken answers
-- more with nothing deleted, and the sweeper waits a while.
DROP FUNCTION sfn_retention_sweep(interval, interval, int);

CREATE FUNCTION sfn_retention_sweep(p_keep interval,
    p_jobs interval, p_rows int, OUT executions int, OUT deleted bigint,
    OUT more boolean, OUT took float8, OUT dropped boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_t0      timestamptz := clock_timestamp();
    v_before  timestamptz := now() - p_keep;
    v_budget  bigint := p_rows;
    v_arn     text;
    v_outcome text;
    v_n       bigint;
    n         bigint;
BEGIN
    executions := 0;
    deleted := 0;
    more := false;
    took := 0;
    dropped := false;

    IF NOT pg_try_advisory_xact_lock(1936092673) THEN
        executions := -1;
        RETURN;
    END IF;

    SELECT s.executions, s.deleted, s.outcome INTO v_n, n, v_outcome
        FROM sfn_partitions_step(p_keep) s;

    IF v_outcome IS NOT NULL THEN
        executions := v_n;
        deleted := n;
        dropped := v_outcome = 'dropped';
        more := true;
        took := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
        RETURN;
    END IF;

    FOR v_arn IN
        SELECT arn FROM sfn_executions
        WHERE status <> 'RUNNING' AND stop_date < v_before
        ORDER BY stop_date LIMIT p_rows
        FOR UPDATE SKIP LOCKED
    LOOP
        IF v_budget <= 0 THEN
            more := true;
            EXIT;
        END IF;

        DELETE FROM sfn_history WHERE execution_arn = v_arn
            AND id IN (SELECT id FROM sfn_history
                       WHERE execution_arn = v_arn
                       ORDER BY id DESC LIMIT v_budget);
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        v_budget := v_budget - n;

        DELETE FROM sfn_payloads WHERE execution_arn = v_arn
            AND hash IN (SELECT hash FROM sfn_payloads
                         WHERE execution_arn = v_arn
                         LIMIT greatest(v_budget, 0));
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        v_budget := v_budget - n;

        IF v_budget <= 0
           AND (EXISTS (SELECT 1 FROM sfn_history
                        WHERE execution_arn = v_arn)
                OR EXISTS (SELECT 1 FROM sfn_payloads
                           WHERE execution_arn = v_arn))
        THEN
            more := true;
            EXIT;
        END IF;

        DELETE FROM sfn_tokens WHERE execution_arn = v_arn;
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        v_budget := v_budget - n;

        DELETE FROM sfn_mailbox WHERE execution_arn = v_arn;
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        v_budget := v_budget - n;

        DELETE FROM sfn_executions WHERE arn = v_arn;
        deleted := deleted + 1;
        v_budget := v_budget - 1;
        executions := executions + 1;
    END LOOP;

    IF NOT more AND v_budget <= 0 THEN
        more := EXISTS (SELECT 1 FROM sfn_executions
                        WHERE status <> 'RUNNING' AND stop_date < v_before);
    END IF;

    IF p_jobs IS NULL OR v_budget <= 0 THEN
        more := more OR (p_jobs IS NOT NULL AND v_budget <= 0);
        took := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
        RETURN;
    END IF;

    DELETE FROM sfn_jobs WHERE job_id IN (
        SELECT j.job_id FROM sfn_jobs j
        WHERE j.updated_at < now() - p_jobs
        AND NOT EXISTS (SELECT 1 FROM sfn_executions e
                        WHERE e.arn = j.execution_arn
                        AND e.status = 'RUNNING')
        ORDER BY j.updated_at LIMIT v_budget);
    GET DIAGNOSTICS n = ROW_COUNT;
    deleted := deleted + n;

    more := more OR n = v_budget;
    took := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
END
$$;


-- sql/010's redrive: the unpacked history goes with its execution's start
-- date, in its range
CREATE OR REPLACE FUNCTION sfn_execution_redrive(p_arn text, p_owner text,
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
                                      ts, details, start_date)
        SELECT p_arn, u.id, u.previous_id, u.type, u.ts, u.details,
               x.start_date
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
