-- ngx_sfn schema, version 21: a partition range's length, and how far
-- ahead of the starts it is made (sql/018_partitions.sql).
--
-- A range is an eighth of the retention, as before, so that a range goes
-- at most an eighth of the retention after its last execution expired
-- and about ten ranges are alive whatever the retention; but 30 seconds
-- at least, where it was a minute.  The floor bounds the catalog's churn
-- for a short retention: making a range takes six calls of the sweep a
-- second apart and dropping it two, calls in which no row is deleted, so
-- that a range of 30 s keeps them under a quarter of the sweeper's time.
-- A retention of 4 to 8 minutes now gets its eighth too.
--
-- A range is made, as before, when the last one ends within a period,
-- from its end or the lead ahead if that is nearer: the lead is a
-- period, a minute at most, where it was a minute.  So nothing changes
-- for a retention of 8 minutes or more: the first range after retention
-- is turned on keeps its minute, of which the validation of the defaults'
-- constraints, a scan of all that was written while retention was off,
-- may take 45 s.  A retention under 8 minutes gets a lead of 30 s to a
-- minute: 15 s at least for the range's steps, which take about six
-- seconds, before the margin of 15 s (the clocks of the nodes and their
-- writers' queues: a start dated in a range not yet attached would be
-- refused by its default's constraint); a range that does not make it is
-- undone, and made again at the next turn.  With a long retention a range
-- is made a period ahead (days); with a short one (a period of 30 s, a
-- turn of the sweeper up to 24 s) a range may begin up to a turn after
-- the last ended, as before, and the starts of that gap go to the
-- defaults, deleted row by row.

-- sql/018's step of the partitions' upkeep, with v_period and v_lead
CREATE OR REPLACE FUNCTION sfn_partitions_step(p_keep interval,
    OUT executions bigint, OUT deleted bigint, OUT outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    v_period  interval := greatest(p_keep / 8, interval '30 seconds');
    v_lead    interval := least(v_period, interval '1 minute');
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
    -- the end of the last one, or the lead ahead if that is nearer, for a
    -- period; its tables made first, with their indexes, under no lock
    -- but theirs

    SELECT max(hi) INTO v_since FROM sfn_partitions
        WHERE state IN ('sealed', 'detached', 'dropped');

    IF v_since > now() + v_period THEN
        RETURN;
    END IF;

    DELETE FROM sfn_partitions WHERE state = 'undone';

    p.lo := greatest(v_since, now() + v_lead);
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
