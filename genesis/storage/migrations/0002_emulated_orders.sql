-- Genesis storage schema, version 2: what the kernel's emulator holds of each order it
-- emulates (genesis/execution/emulation.py, EmulatedState), so a live restart holds it
-- again exactly. One row per order, upserted on every change (latest wins): a trailing
-- stop's watermark and trigger, whether it was released, an iceberg's working slice.
-- No foreign key on orders: a state change can be queued just before the intent row of
-- the round it belongs to. Placeholders as in 0001_initial.sql.

CREATE TABLE emulated_orders (
    client_order_id TEXT PRIMARY KEY,
    watermark {{money}},
    trigger_price {{money}},
    triggered INTEGER NOT NULL,
    slice_no INTEGER NOT NULL,
    slice_leaves {{money}} NOT NULL,
    ts_ns BIGINT NOT NULL
)
