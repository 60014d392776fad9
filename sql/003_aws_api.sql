-- ngx_sfn schema, version 3: state machines created through the AWS API.
--
-- revision counts the updates of a definition; with updated_at it keys
-- the per-worker cache of compiled definitions.  tags is a JSON object
-- {"key": "value"} (TagResource, ListTagsForResource).

ALTER TABLE sfn_state_machines
    ADD COLUMN role_arn text,
    ADD COLUMN revision bigint NOT NULL DEFAULT 1,
    ADD COLUMN tags jsonb NOT NULL DEFAULT '{}';
