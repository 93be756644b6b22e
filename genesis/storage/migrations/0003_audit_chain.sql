-- Genesis storage schema, version 3: the hash chain over the decision rows
-- (genesis/storage/chain.py). Each row of order_events and audit_log stores the hash
-- of the row before it in its table and its own hash, sha256(prev_hash + canonical
-- content). Rows written before this version keep NULL hashes: the verifier counts
-- them as legacy, at the start of the chain. The index serves period queries (the
-- compliance report). Placeholders as in 0001_initial.sql.

ALTER TABLE order_events ADD COLUMN prev_hash TEXT;

ALTER TABLE order_events ADD COLUMN row_hash TEXT;

ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;

ALTER TABLE audit_log ADD COLUMN row_hash TEXT;

CREATE INDEX audit_log_ts ON audit_log (ts_ns)
