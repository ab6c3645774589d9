CREATE TABLE payments (
    id          TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    channel     TEXT NOT NULL,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    status      TEXT NOT NULL,
    pay_url     TEXT NOT NULL DEFAULT '',
    trade_no    TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (member_id, idem_key)
);
CREATE INDEX payments_by_order ON payments (order_id);
CREATE INDEX payments_pending ON payments (status, expires_at);

CREATE TABLE refunds (
    id              TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL UNIQUE REFERENCES payments (id),
    order_id        TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX refunds_due ON refunds (status, next_attempt_at);

-- The sandbox provider's own records: what a real provider keeps on its
-- side, here in the cashier's database because the sandbox runs inside it.
CREATE TABLE sandbox_trades (
    trade_no        TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL UNIQUE,
    amount          BIGINT NOT NULL,
    state           TEXT NOT NULL,
    refunded        INTEGER NOT NULL DEFAULT 0,
    notify_attempts INTEGER NOT NULL DEFAULT 0,
    notify_next_at  TEXT,
    notified_at     TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX sandbox_notify_due ON sandbox_trades (notified_at, notify_next_at);
