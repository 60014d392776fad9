-- ngx_sfn schema, version 14: claims answered again.
--
-- The recovery's claim (ngx_http_sfn_lease.c) takes executions whose
-- lease has run out and gives them to the worker that sent it.  If the
-- connection is lost after the claim has committed and before its answer
-- has come, the worker sends the same statement again, as it does every
-- statement of a transaction not known to have committed: the executions
-- taken the first time are its own by then, leased, and no longer match
-- "lease run out".  Each claim is numbered (by worker: owner and number
-- are the key), and the number is kept in the rows it takes, so that the
-- statement sent again answers them too, first, rather than leave them
-- owned, and renewed, by a worker that never learnt it runs them.

ALTER TABLE sfn_executions ADD COLUMN claim bigint;
