CREATE TABLE orders (
    id            TEXT PRIMARY KEY,
    member_id     TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    creator_id    TEXT NOT NULL,
    reward_id     TEXT,
    reward_title  TEXT NOT NULL DEFAULT '',
    amount        BIGINT NOT NULL CHECK (amount > 0),
    status        TEXT NOT NULL,
    address       TEXT,
    expires_at    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    paid_at       TEXT,
    payment_id    TEXT NOT NULL DEFAULT '',
    tracking      TEXT NOT NULL DEFAULT '',
    refund_reason TEXT NOT NULL DEFAULT '',
    unit_held     INTEGER NOT NULL DEFAULT 0,
    counted       INTEGER NOT NULL DEFAULT 0,
    version       BIGINT NOT NULL DEFAULT 1,
    UNIQUE (member_id, idem_key)
);
-- Expiry reads only the pending orders that are due, in deadline order.
CREATE INDEX orders_due ON orders (status, expires_at);
CREATE INDEX orders_by_member ON orders (member_id, created_at);
CREATE INDEX orders_by_project ON orders (project_id, status);
