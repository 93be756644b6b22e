-- Genesis storage schema, version 1. Applied by both backends, in one transaction.
-- Placeholders mapped per backend (genesis/storage/repository.py, TYPE_MAP):
--   {{money}}  exact decimal: TEXT in SQLite (no float affinity), NUMERIC in PostgreSQL
--   {{bytes}}  opaque bytes:  BLOB in SQLite, BYTEA in PostgreSQL
--   {{id}}     surrogate key that increases with insertion order
-- Timestamps are integer nanoseconds since the Unix epoch (BIGINT).
-- Statements are separated by semicolons; no semicolon may appear inside one.

CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY,
    strategy_id TEXT NOT NULL,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    quantity {{money}} NOT NULL,
    price {{money}},
    status TEXT NOT NULL,
    filled_qty {{money}} NOT NULL,
    venue_order_id TEXT NOT NULL,
    ts_init BIGINT NOT NULL,
    ts_last BIGINT NOT NULL
);

CREATE INDEX orders_status ON orders (status);

CREATE TABLE order_events (
    id {{id}},
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
    ts_ns BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail_json TEXT NOT NULL
);

CREATE INDEX order_events_order ON order_events (client_order_id, id);

CREATE TABLE fills (
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    venue_order_id TEXT NOT NULL,
    side TEXT NOT NULL,
    price {{money}} NOT NULL,
    quantity {{money}} NOT NULL,
    fee {{money}} NOT NULL,
    fee_currency TEXT NOT NULL,
    ts_ns BIGINT NOT NULL,
    PRIMARY KEY (venue, symbol, trade_id)
);

CREATE INDEX fills_ts ON fills (ts_ns);

CREATE TABLE positions (
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    quantity {{money}} NOT NULL,
    avg_px {{money}} NOT NULL,
    realized_pnl {{money}} NOT NULL,
    ts_ns BIGINT NOT NULL,
    PRIMARY KEY (venue, symbol)
);

CREATE TABLE balances (
    venue TEXT NOT NULL,
    asset TEXT NOT NULL,
    free {{money}} NOT NULL,
    locked {{money}} NOT NULL,
    ts_ns BIGINT NOT NULL,
    PRIMARY KEY (venue, asset)
);

CREATE TABLE strategy_state (
    id {{id}},
    strategy_id TEXT NOT NULL,
    ts_ns BIGINT NOT NULL,
    blob {{bytes}} NOT NULL
);

CREATE INDEX strategy_state_latest ON strategy_state (strategy_id, ts_ns, id);

CREATE TABLE config_versions (
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    body TEXT NOT NULL,
    ts_ns BIGINT NOT NULL,
    PRIMARY KEY (name, sha256)
);

CREATE TABLE audit_log (
    id {{id}},
    ts_ns BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail_json TEXT NOT NULL
)
