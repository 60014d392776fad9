-- ngx_sfn schema, version 9: versions and aliases of the state machines
-- created through the AWS API.
--
-- A version is an immutable copy of what its state machine was at one
-- revision (definition, role, type, configurations).  Its number is
-- taken from last_version of the state machine's row, which the
-- publishing statement locks and increments: concurrent publishes are
-- serialized there, and the numbers of a state machine are unique and
-- never reused (one deleted leaves its number taken, as on AWS).  A
-- deleted version keeps its row (deleted) for the executions that still
-- run it: recovery finds their definition here.
--
-- An alias routes starts to one or two versions by weight; routing is
-- the model's routingConfiguration, [{"stateMachineVersionArn",
-- "weight"}], checked when it is written.  Versions and aliases go with
-- their state machine.

ALTER TABLE sfn_state_machines
    ADD COLUMN last_version bigint NOT NULL DEFAULT 0;

CREATE TABLE sfn_versions (
    arn             text PRIMARY KEY,
    state_machine   text NOT NULL REFERENCES sfn_state_machines (name)
                        ON DELETE CASCADE,
    version         bigint NOT NULL,
    revision        bigint NOT NULL,
    type            text NOT NULL,
    definition      text NOT NULL,
    role_arn        text,
    description     text,
    logging_configuration jsonb,
    tracing_configuration jsonb,
    encryption_configuration jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    deleted         boolean NOT NULL DEFAULT false,
    UNIQUE (state_machine, version)
);

CREATE TABLE sfn_aliases (
    arn             text PRIMARY KEY,
    state_machine   text NOT NULL REFERENCES sfn_state_machines (name)
                        ON DELETE CASCADE,
    name            text NOT NULL,
    description     text,
    routing         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (state_machine, name)
);

-- what an execution was started with (DescribeExecution, recovery)
ALTER TABLE sfn_executions
    ADD COLUMN version_arn text,
    ADD COLUMN alias_arn text;


-- PublishStateMachineVersion: the version of the current revision if one
-- is published (AWS's idempotence), else a new one.  outcome: 'ok',
-- 'missing' (no such state machine of the API), 'conflict' (revision is
-- not the current one, or the version of the current revision has
-- another description), 'quota' (p_max versions).  The lock on the state
-- machine's row orders concurrent publishes; every statement of the
-- function reads what committed before it, the other publish included.

CREATE FUNCTION sfn_version_publish(p_name text, p_revision text,
    p_description text, p_max int)
RETURNS TABLE (outcome text, version_arn text, created float8)
LANGUAGE plpgsql AS $$
DECLARE
    m  sfn_state_machines%ROWTYPE;
    v  sfn_versions%ROWTYPE;
BEGIN
    SELECT * INTO m FROM sfn_state_machines
    WHERE name = p_name AND source = 'api' FOR UPDATE;

    IF NOT FOUND THEN
        RETURN QUERY SELECT 'missing', NULL::text, NULL::float8;
        RETURN;
    END IF;

    IF p_revision IS NOT NULL AND p_revision <> m.revision::text
       AND NOT (p_revision = 'INITIAL' AND m.revision = 1)
    THEN
        RETURN QUERY SELECT 'conflict', NULL::text, NULL::float8;
        RETURN;
    END IF;

    SELECT * INTO v FROM sfn_versions
    WHERE state_machine = p_name AND revision = m.revision AND NOT deleted
    ORDER BY version DESC LIMIT 1;

    IF FOUND THEN
        IF p_description IS NOT NULL
           AND p_description IS DISTINCT FROM v.description
        THEN
            RETURN QUERY SELECT 'conflict', v.arn, NULL::float8;
            RETURN;
        END IF;

        RETURN QUERY SELECT 'ok', v.arn,
                            extract(epoch FROM v.created_at)::float8;
        RETURN;
    END IF;

    IF (SELECT count(*) FROM sfn_versions
        WHERE state_machine = p_name AND NOT deleted) >= p_max
    THEN
        RETURN QUERY SELECT 'quota', NULL::text, NULL::float8;
        RETURN;
    END IF;

    UPDATE sfn_state_machines SET last_version = last_version + 1
    WHERE name = p_name RETURNING last_version INTO m.last_version;

    INSERT INTO sfn_versions (arn, state_machine, version, revision, type,
        definition, role_arn, description, logging_configuration,
        tracing_configuration, encryption_configuration)
    VALUES (m.arn || ':' || m.last_version, p_name, m.last_version,
        m.revision, m.type, m.definition, m.role_arn, p_description,
        m.logging_configuration, m.tracing_configuration,
        m.encryption_configuration)
    RETURNING * INTO v;

    RETURN QUERY SELECT 'ok', v.arn, extract(epoch FROM v.created_at)::float8;
END
$$;


-- DeleteStateMachineVersion: 'ok' (deleted, or there was none), or
-- 'conflict' while an alias routes to it.  The version's row lock orders
-- it against sfn_alias_write(), which shares it.

CREATE FUNCTION sfn_version_delete(p_arn text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    sm  text;
BEGIN
    SELECT state_machine INTO sm FROM sfn_versions
    WHERE arn = p_arn AND NOT deleted FOR UPDATE;

    IF NOT FOUND THEN
        RETURN 'ok';
    END IF;

    IF EXISTS (SELECT 1 FROM sfn_aliases
               WHERE state_machine = sm
               AND routing @> jsonb_build_array(
                   jsonb_build_object('stateMachineVersionArn', p_arn)))
    THEN
        RETURN 'conflict';
    END IF;

    UPDATE sfn_versions SET deleted = true WHERE arn = p_arn;

    RETURN 'ok';
END
$$;


-- CreateStateMachineAlias (p_create) and UpdateStateMachineAlias: the
-- routing's versions are checked to exist and held until the end.
-- outcome: 'ok', 'missing' (a version, or the alias to update),
-- 'conflict' (another alias of that name), 'quota' (p_max aliases).

CREATE FUNCTION sfn_alias_write(p_create boolean, p_arn text, p_machine text,
    p_name text, p_description text, p_routing jsonb, p_max int)
RETURNS TABLE (outcome text, created float8, updated float8)
LANGUAGE plpgsql AS $$
DECLARE
    a  sfn_aliases%ROWTYPE;
    n  int;
BEGIN
    IF p_routing IS NOT NULL THEN
        SELECT count(*) INTO n FROM (
            SELECT 1 FROM sfn_versions
            WHERE state_machine = p_machine AND NOT deleted
            AND arn IN (SELECT r ->> 'stateMachineVersionArn'
                        FROM jsonb_array_elements(p_routing) r)
            FOR SHARE) s;

        IF n <> jsonb_array_length(p_routing) THEN
            RETURN QUERY SELECT 'missing', NULL::float8, NULL::float8;
            RETURN;
        END IF;
    END IF;

    IF NOT p_create THEN
        UPDATE sfn_aliases SET
            description = COALESCE(p_description, description),
            routing = COALESCE(p_routing, routing), updated_at = now()
        WHERE arn = p_arn RETURNING * INTO a;

        IF NOT FOUND THEN
            RETURN QUERY SELECT 'missing', NULL::float8, NULL::float8;
            RETURN;
        END IF;

        RETURN QUERY SELECT 'ok', extract(epoch FROM a.created_at)::float8,
                            extract(epoch FROM a.updated_at)::float8;
        RETURN;
    END IF;

    IF (SELECT count(*) FROM sfn_aliases WHERE state_machine = p_machine)
       >= p_max
       AND NOT EXISTS (SELECT 1 FROM sfn_aliases WHERE arn = p_arn)
    THEN
        RETURN QUERY SELECT 'quota', NULL::float8, NULL::float8;
        RETURN;
    END IF;

    INSERT INTO sfn_aliases (arn, state_machine, name, description, routing)
    VALUES (p_arn, p_machine, p_name, p_description, p_routing)
    ON CONFLICT DO NOTHING RETURNING * INTO a;

    IF NOT FOUND THEN
        SELECT * INTO a FROM sfn_aliases WHERE arn = p_arn;

        IF a.description IS DISTINCT FROM p_description
           OR a.routing <> p_routing
        THEN
            RETURN QUERY SELECT 'conflict', NULL::float8, NULL::float8;
            RETURN;
        END IF;
    END IF;

    RETURN QUERY SELECT 'ok', extract(epoch FROM a.created_at)::float8,
                        extract(epoch FROM a.updated_at)::float8;
END
$$;
